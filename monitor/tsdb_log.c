/*
 * tsdb_log.c - the store's write-ahead log: what makes an acknowledged
 * append survive a kill of the collector while its samples sit in open
 * chunks in memory.
 *
 * Segments are files <path>-log/<16 hex digits>.log.  Each append call
 * writes one frame (under the store's lock, so frames are in the order the
 * samples were taken) and, with the sync option, fdatasyncs it before the
 * call returns; concurrent callers share one fdatasync (group commit).
 *
 *   frame  = length (u32 LE), FNV-1a 32 of the payload (u32 LE), payload
 *   record = 'S' id (varint) length (varint) labels blob   a new series
 *          | 'A' count (u32 LE) id (varint) then per sample the time since
 *            the previous one (the first: since 0) zigzagged (varint) and
 *            the float64 bits (u64 LE)
 *
 * Replay (on open) feeds the samples through the same rule as an append:
 * what is not newer than the series' newest sample is skipped, so replaying
 * a frame whose samples already sit in a sealed chunk or in the checkpoint
 * does nothing.  A torn last frame (bad length or checksum) ends replay.
 * A checkpoint writes every open chunk into the open_chunks table (its
 * commit synced) and starts a new segment; older segments are deleted.
 */
#include "tsdb_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FRAME_HEAD 8
#define MAX_SEGMENT_BYTES (1ULL << 31)

static uint32_t fnv32(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static int put_varint(bar_mbuf *b, uint64_t v)
{
	uint8_t t[10];
	size_t n = 0;

	do {
		t[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return bar_mbuf_add(b, t, n);
}

static int get_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
	uint64_t x = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		if (*pos >= len)
			return -1;
		uint8_t c = p[(*pos)++];
		x |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

int tsdb_log_series_def(bar_mbuf *b, const tsdb_series *s)
{
	if (b->len == 0 && bar_mbuf_add(b, "\0\0\0\0\0\0\0\0", FRAME_HEAD) < 0)
		return -1;
	if (bar_mbuf_add(b, "S", 1) < 0 || put_varint(b, (uint64_t)s->id) < 0 ||
	    put_varint(b, s->bloblen) < 0)
		return -1;
	return bar_mbuf_add(b, s->blob, s->bloblen);
}

int tsdb_log_series_head(bar_mbuf *b, int64_t id, size_t n, size_t *mark)
{
	(void)n;
	if (b->len == 0 && bar_mbuf_add(b, "\0\0\0\0\0\0\0\0", FRAME_HEAD) < 0)
		return -1;
	*mark = b->len;
	if (bar_mbuf_add(b, "A\0\0\0\0", 5) < 0)
		return -1;
	return put_varint(b, (uint64_t)id);
}

int tsdb_log_sample(bar_mbuf *b, int64_t dt, double v)
{
	uint8_t t[18];
	size_t n = 0;
	uint64_t z = ((uint64_t)dt << 1) ^ (uint64_t)(dt >> 63), bits;

	do {
		t[n++] = (uint8_t)((z & 0x7f) | (z > 0x7f ? 0x80 : 0));
		z >>= 7;
	} while (z && n < 10);
	memcpy(&bits, &v, 8);
	for (int i = 0; i < 8; i++)
		t[n++] = (uint8_t)(bits >> (8 * i));
	return bar_mbuf_add(b, t, n);
}

void tsdb_log_series_end(bar_mbuf *b, size_t mark, size_t nacc)
{
	if (nacc == 0) {
		b->len = mark; /* nothing taken: no record */
		return;
	}
	for (int i = 0; i < 4; i++)
		b->p[mark + 1 + i] = (char)(uint8_t)(nacc >> (8 * i));
}

int tsdb_log_write(bar_tsdb *db, uint64_t *seq, char *why, size_t wsize)
{
	bar_mbuf *b = &db->lbuf;
	size_t off = 0;
	uint32_t len, sum;

	*seq = 0;
	if (b->failed) {
		snprintf(why, wsize, "tsdb: log: out of memory");
		return -1;
	}
	if (b->len <= FRAME_HEAD)
		return 0;
	len = (uint32_t)(b->len - FRAME_HEAD);
	sum = fnv32((const uint8_t *)b->p + FRAME_HEAD, len);
	for (int i = 0; i < 4; i++) {
		b->p[i] = (char)(uint8_t)(len >> (8 * i));
		b->p[4 + i] = (char)(uint8_t)(sum >> (8 * i));
	}
	while (off < b->len) {
		ssize_t w = write(db->logfd, b->p + off, b->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(why, wsize, "tsdb: log: write: %s", strerror(errno));
			return -1;
		}
		off += (size_t)w;
	}
	db->log_bytes += b->len;
	__atomic_store_n(&db->wseq, db->wseq + 1, __ATOMIC_RELEASE);
	*seq = db->wseq;
	return 0;
}

int tsdb_log_sync(bar_tsdb *db, uint64_t seq, char *why, size_t wsize)
{
	int rc = 0;

	pthread_mutex_lock(&db->syncmu);
	if (db->synced < seq) {
		/* everything written so far is covered by this fdatasync */
		uint64_t upto = __atomic_load_n(&db->wseq, __ATOMIC_ACQUIRE);
		if (fdatasync(db->logfd) < 0) {
			snprintf(why, wsize, "tsdb: log: fdatasync: %s", strerror(errno));
			rc = -1;
		} else {
			db->synced = upto;
		}
	}
	pthread_mutex_unlock(&db->syncmu);
	return rc;
}

/* ---- replay ---- */

static int replay_frame(bar_tsdb *db, const uint8_t *p, size_t len, bar_msample **tmp,
                        size_t *tmpcap)
{
	size_t pos = 0;

	while (pos < len) {
		uint8_t kind = p[pos++];
		uint64_t id, n;
		if (kind == 'S') {
			if (get_varint(p, len, &pos, &id) < 0 || get_varint(p, len, &pos, &n) < 0 ||
			    n > len - pos || id == 0 || id > (1ULL << 40))
				return -1;
			if ((int64_t)id > db->maxid || !db->byid[id - 1]) {
				tsdb_series *s = tsdb_series_add(db, (int64_t)id, p + pos, (size_t)n);
				if (!s)
					return -1;
				if (tsdb_grow(&db->newser, &db->newcap, db->nnew + 1, sizeof(s)) < 0)
					return -1;
				db->newser[db->nnew++] = s;
			}
			pos += (size_t)n;
		} else if (kind == 'A') {
			int64_t t = 0;
			tsdb_series *s;
			if (len - pos < 4)
				return -1;
			n = (uint64_t)p[pos] | (uint64_t)p[pos + 1] << 8 | (uint64_t)p[pos + 2] << 16 |
			    (uint64_t)p[pos + 3] << 24;
			pos += 4;
			if (get_varint(p, len, &pos, &id) < 0 || id == 0 || (int64_t)id > db->maxid ||
			    !(s = db->byid[id - 1]) || n > len)
				return -1;
			if (n > *tmpcap) {
				bar_msample *nt = realloc(*tmp, n * sizeof(*nt));
				if (!nt)
					return -1;
				*tmp = nt;
				*tmpcap = n;
			}
			for (uint64_t i = 0; i < n; i++) {
				uint64_t z, bits = 0;
				if (get_varint(p, len, &pos, &z) < 0 || len - pos < 8)
					return -1;
				t = (int64_t)((uint64_t)t + (uint64_t)((int64_t)((z >> 1) ^ (~(z & 1) + 1))));
				for (int k = 0; k < 8; k++)
					bits |= (uint64_t)p[pos + k] << (8 * k);
				pos += 8;
				(*tmp)[i].t_ms = t;
				memcpy(&(*tmp)[i].v, &bits, 8);
			}
			if (tsdb_accept(db, s, *tmp, (size_t)n, NULL, NULL) < 0)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

static int replay_file(bar_tsdb *db, const char *path, char *why, size_t wsize)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL, head[FRAME_HEAD];
	size_t cap = 0;
	bar_msample *tmp = NULL;
	size_t tmpcap = 0;
	int rc = -1;

	if (!f) {
		snprintf(why, wsize, "tsdb: log: %s: %s", path, strerror(errno));
		return -1;
	}
	while (fread(head, 1, FRAME_HEAD, f) == FRAME_HEAD) {
		uint32_t len = (uint32_t)head[0] | (uint32_t)head[1] << 8 | (uint32_t)head[2] << 16 |
		               (uint32_t)head[3] << 24;
		uint32_t sum = (uint32_t)head[4] | (uint32_t)head[5] << 8 | (uint32_t)head[6] << 16 |
		               (uint32_t)head[7] << 24;
		if (len == 0 || len > (1u << 30))
			break; /* torn */
		if (len > cap) {
			uint8_t *nb = realloc(buf, len);
			if (!nb) {
				snprintf(why, wsize, "tsdb: log: out of memory");
				goto done;
			}
			buf = nb;
			cap = len;
		}
		if (fread(buf, 1, len, f) != len || fnv32(buf, len) != sum)
			break; /* torn */
		if (replay_frame(db, buf, len, &tmp, &tmpcap) < 0) {
			snprintf(why, wsize, "tsdb: log: %s: a frame that checks but does not parse",
			         path);
			goto done;
		}
	}
	rc = 0;
done:
	fclose(f);
	free(buf);
	free(tmp);
	return rc;
}

static int seg_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The segment numbers in the log directory, sorted. */
static int segments(bar_tsdb *db, uint64_t **out, size_t *n)
{
	DIR *d = opendir(db->logdir);
	struct dirent *e;
	uint64_t *v = NULL;
	size_t cap = 0;

	*n = 0;
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		unsigned long long num;
		char tail[8];
		if (strlen(e->d_name) != 20 || sscanf(e->d_name, "%16llx%7s", &num, tail) != 2 ||
		    strcmp(tail, ".log") != 0)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			uint64_t *nv = realloc(v, cap * sizeof(*nv));
			if (!nv) {
				free(v);
				closedir(d);
				return -1;
			}
			v = nv;
		}
		v[(*n)++] = num;
	}
	closedir(d);
	if (*n > 1)
		qsort(v, *n, sizeof(*v), seg_cmp);
	*out = v;
	return 0;
}

static void seg_path(char *p, size_t n, const bar_tsdb *db, uint64_t seg)
{
	snprintf(p, n, "%s/%016" PRIx64 ".log", db->logdir, seg);
}

int tsdb_log_replay(bar_tsdb *db, char *why, size_t wsize)
{
	uint64_t *seg = NULL;
	size_t n;
	char p[4200];
	int rc = 0;

	if (segments(db, &seg, &n) < 0) {
		snprintf(why, wsize, "tsdb: log: %s: %s", db->logdir, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		seg_path(p, sizeof(p), db, seg[i]);
		rc = replay_file(db, p, why, wsize);
		db->logseg = seg[i];
	}
	free(seg);
	return rc;
}

int tsdb_log_load_open(bar_tsdb *db, char *why, size_t wsize)
{
	sqlite3_stmt *st = NULL;
	int64_t *t = malloc(TSDB_CHUNK_MAX_POINTS * sizeof(*t));
	double *v = malloc(TSDB_CHUNK_MAX_POINTS * sizeof(*v));
	bar_msample *sm = malloc(TSDB_CHUNK_MAX_POINTS * sizeof(*sm));
	int rc = -1;

	if (!t || !v || !sm) {
		snprintf(why, wsize, "tsdb: out of memory");
		goto done;
	}
	if (sqlite3_prepare_v2(db->w, "SELECT series, data FROM open_chunks", -1, &st, NULL) !=
	    SQLITE_OK) {
		tsdb_sql_fail(db->w, "open chunks", why, wsize);
		goto done;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		tsdb_series *s = id >= 1 && id <= db->maxid ? db->byid[id - 1] : NULL;
		double *cols[1] = {v};
		size_t n;
		if (!s || tsdb_chunk_decode(&n, t, cols, 1, TSDB_CHUNK_MAX_POINTS,
		                            sqlite3_column_blob(st, 1),
		                            (size_t)sqlite3_column_bytes(st, 1), why, wsize) < 0)
			continue; /* a row of a series gone or damaged: the log has it too */
		for (size_t i = 0; i < n; i++)
			sm[i] = (bar_msample){t[i], v[i]};
		if (tsdb_accept(db, s, sm, n, NULL, NULL) < 0) {
			snprintf(why, wsize, "tsdb: out of memory");
			goto done;
		}
	}
	rc = 0;
done:
	sqlite3_finalize(st);
	free(t);
	free(v);
	free(sm);
	return rc;
}

int tsdb_checkpoint(bar_tsdb *db, char *why, size_t wsize)
{
	sqlite3_stmt *st = NULL;
	uint64_t *seg = NULL;
	size_t nseg = 0;
	char p[4200];
	int fd, rc = -1, in_tx = 0;

	if (tsdb_write_pending(db, 0, why, wsize) < 0)
		return -1;
	/* the commit that lets the log go is synced (FULL), the rest NORMAL */
	if (tsdb_exec(db->w, "PRAGMA synchronous=FULL", why, wsize) < 0 ||
	    tsdb_exec(db->w, "BEGIN", why, wsize) < 0)
		goto done;
	in_tx = 1;
	if (tsdb_exec(db->w, "DELETE FROM open_chunks", why, wsize) < 0)
		goto done;
	if (sqlite3_prepare_v2(db->w, "INSERT INTO open_chunks(series, data) VALUES (?1, ?2)", -1,
	                       &st, NULL) != SQLITE_OK) {
		tsdb_sql_fail(db->w, "checkpoint", why, wsize);
		goto done;
	}
	for (int64_t id = 1; id <= db->maxid; id++) {
		tsdb_series *s = db->byid[id - 1];
		bar_mbuf b = {0};
		const double *cols[1];
		if (!s || s->n == 0)
			continue;
		cols[0] = s->v;
		if (tsdb_chunk_encode(&b, s->t, cols, 1, s->n) < 0) {
			bar_mbuf_free(&b);
			snprintf(why, wsize, "tsdb: checkpoint: out of memory");
			goto done;
		}
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_blob(st, 2, b.p, (int)b.len, SQLITE_TRANSIENT);
		bar_mbuf_free(&b);
		if (sqlite3_step(st) != SQLITE_DONE) {
			tsdb_sql_fail(db->w, "checkpoint", why, wsize);
			goto done;
		}
	}
	if (tsdb_exec(db->w, "COMMIT", why, wsize) < 0)
		goto done;
	in_tx = 0;
	/* a new segment; the old ones are no longer needed */
	seg_path(p, sizeof(p), db, db->logseg + 1);
	fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(why, wsize, "tsdb: log: %s: %s", p, strerror(errno));
		goto done;
	}
	pthread_mutex_lock(&db->syncmu);
	if (db->logfd >= 0)
		close(db->logfd);
	db->logfd = fd;
	db->logseg++;
	db->synced = db->wseq;
	pthread_mutex_unlock(&db->syncmu);
	if (segments(db, &seg, &nseg) == 0)
		for (size_t i = 0; i < nseg; i++)
			if (seg[i] < db->logseg) {
				seg_path(p, sizeof(p), db, seg[i]);
				unlink(p);
			}
	free(seg);
	{
		int dfd = open(db->logdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	db->log_bytes = 0;
	rc = 0;
done:
	if (in_tx)
		sqlite3_exec(db->w, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_finalize(st);
	if (tsdb_exec(db->w, "PRAGMA synchronous=NORMAL", rc < 0 ? NULL : why, rc < 0 ? 0 : wsize) <
	    0)
		rc = -1;
	return rc;
}

void tsdb_log_close(bar_tsdb *db)
{
	if (db->logfd >= 0)
		close(db->logfd);
	db->logfd = -1;
}
