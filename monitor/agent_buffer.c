/*
 * agent_buffer.c - what barista-agent has collected and no collector has
 * acknowledged yet (agent.h).  Collections gather in an open batch (series
 * with their samples); at each push the batch is sealed into its
 * remote-write body (bar_rw_encode), the form it is kept in from then on.
 * Sealed batches queue in memory up to memory_max bytes; beyond that the
 * oldest move to the spool, append-only segment files in <state_dir>/spool
 * that are fsync'd record by record, so the spool always holds the older
 * batches and memory the newer ones, and sending takes the spool's first.
 * A full spool gives up its oldest segment (counted as dropped).  On start
 * the segments are replayed in order; a torn last record is ignored.
 *
 * A spool record: "BAS1", then little-endian u32 body length, u32 samples,
 * u32 FNV-1a of the body, then the body.  <spool>/head holds
 * "SEQ OFFSET\n", how far the oldest segment has been acknowledged.
 */
#include "agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REC_HDR 16
#define REC_MAX (64u << 20) /* a batch body: far above any real one */

typedef struct series {
	char *key;
	bar_mlabel *labels; /* and their strings, one allocation */
	size_t nlabels;
	bar_msample *s;
	size_t n, cap;
} series;

typedef struct qitem {
	struct qitem *next;
	size_t len, nsamples;
	char body[];
} qitem;

typedef struct segment {
	uint64_t seq;
	uint64_t size;    /* bytes in the file */
	uint64_t samples; /* not yet acknowledged */
} segment;

struct bar_agent_buffer {
	char dir[600];
	size_t mem_max, spool_max, seg_max;
	series *ser;
	size_t nser, capser, hint;
	uint64_t open_samples;
	qitem *head, *tail;
	size_t mem_bytes;
	uint64_t mem_samples;
	segment *segs;
	size_t nsegs;
	uint64_t head_off, spool_bytes, spool_samples;
	int wfd; /* the last segment, open for appending; -1 */
	char *peek;   /* a spool record's body read by peek */
	size_t peek_len, peek_samples, peek_next;
	int peek_from; /* 0 nothing, 1 spool, 2 memory */
	uint64_t dropped;
	uint64_t last_seq; /* the newest segment's number, also once it is gone */
};

static uint32_t fnv1a(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void seg_path(char *out, size_t size, const bar_agent_buffer *b, uint64_t seq)
{
	snprintf(out, size, "%s/%016llu.seg", b->dir, (unsigned long long)seq);
}

static int full_write(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w, n -= (size_t)w;
	}
	return 0;
}

static int full_pread(int fd, void *p, size_t n, off_t off)
{
	char *c = p;

	while (n) {
		ssize_t r = pread(fd, c, n, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r, n -= (size_t)r, off += r;
	}
	return 0;
}

static int write_head(bar_agent_buffer *b, char *why, size_t wsize)
{
	char path[700], tmp[710], line[64];
	int fd, rc = -1;

	snprintf(path, sizeof(path), "%s/head", b->dir);
	snprintf(tmp, sizeof(tmp), "%s/head.tmp", b->dir);
	snprintf(line, sizeof(line), "%llu %llu\n",
	         (unsigned long long)(b->nsegs ? b->segs[0].seq : 0),
	         (unsigned long long)b->head_off);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || full_write(fd, line, strlen(line)) < 0 || fsync(fd) < 0 ||
	    rename(tmp, path) < 0) {
		snprintf(why, wsize, "%s: cannot write: %s", path, strerror(errno));
		goto done;
	}
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Remove the oldest segment's file; its unacknowledged samples counted as
 * dropped when it is given up (not when it was all acknowledged). */
static void remove_head_segment(bar_agent_buffer *b, int given_up)
{
	char path[700];

	if (!b->nsegs)
		return;
	if (b->nsegs == 1 && b->wfd >= 0) {
		close(b->wfd);
		b->wfd = -1;
	}
	seg_path(path, sizeof(path), b, b->segs[0].seq);
	unlink(path);
	if (given_up)
		b->dropped += b->segs[0].samples;
	b->spool_samples -= b->segs[0].samples;
	b->spool_bytes -= b->segs[0].size;
	memmove(b->segs, b->segs + 1, (b->nsegs - 1) * sizeof(*b->segs));
	b->nsegs--;
	b->head_off = 0;
	b->peek_from = 0;
}

/* Append one record to the spool (fsync'd); make room first by dropping
 * the oldest segments. */
static int spool_append(bar_agent_buffer *b, const char *body, size_t len, size_t nsamples,
                        char *why, size_t wsize)
{
	unsigned char hdr[REC_HDR];
	uint64_t rec = REC_HDR + len;
	char path[700];

	if (rec > b->spool_max) {
		b->dropped += nsamples; /* it could never fit */
		return 0;
	}
	while (b->nsegs && b->spool_bytes + rec > b->spool_max)
		remove_head_segment(b, 1);
	if (!b->nsegs || b->wfd < 0 || b->segs[b->nsegs - 1].size + rec > b->seg_max) {
		uint64_t seq = b->nsegs ? b->segs[b->nsegs - 1].seq + 1 : b->last_seq + 1;
		segment *ns = realloc(b->segs, (b->nsegs + 1) * sizeof(*ns));
		if (!ns) {
			snprintf(why, wsize, "spool: out of memory");
			return -1;
		}
		b->segs = ns;
		if (b->wfd >= 0)
			close(b->wfd);
		seg_path(path, sizeof(path), b, seq);
		b->wfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (b->wfd < 0) {
			snprintf(why, wsize, "%s: cannot create: %s", path, strerror(errno));
			return -1;
		}
		if (!b->nsegs)
			b->head_off = 0;
		b->segs[b->nsegs++] = (segment){.seq = seq};
		b->last_seq = seq;
	}
	memcpy(hdr, "BAS1", 4);
	put32(hdr + 4, (uint32_t)len);
	put32(hdr + 8, (uint32_t)nsamples);
	put32(hdr + 12, fnv1a(body, len));
	if (full_write(b->wfd, hdr, REC_HDR) < 0 || full_write(b->wfd, body, len) < 0 ||
	    fdatasync(b->wfd) < 0) {
		seg_path(path, sizeof(path), b, b->segs[b->nsegs - 1].seq);
		snprintf(why, wsize, "%s: cannot write: %s", path, strerror(errno));
		/* what was half written is cut off by the checksum at replay; a
		 * new segment starts the next record */
		close(b->wfd);
		b->wfd = -1;
		return -1;
	}
	b->segs[b->nsegs - 1].size += rec;
	b->segs[b->nsegs - 1].samples += nsamples;
	b->spool_bytes += rec;
	b->spool_samples += nsamples;
	return 0;
}

/* Scan one segment: its valid records' bytes and samples from off on. */
static void scan_segment(segment *s, int fd, uint64_t from)
{
	struct stat st;
	uint64_t off = 0;
	unsigned char hdr[REC_HDR];

	if (fstat(fd, &st) < 0)
		return;
	while (off + REC_HDR <= (uint64_t)st.st_size && full_pread(fd, hdr, REC_HDR, (off_t)off) == 0 &&
	       !memcmp(hdr, "BAS1", 4) && get32(hdr + 4) <= REC_MAX &&
	       off + REC_HDR + get32(hdr + 4) <= (uint64_t)st.st_size) {
		if (off >= from)
			s->samples += get32(hdr + 8);
		off += REC_HDR + get32(hdr + 4);
	}
	s->size = off;
}

static int seq_cmp(const void *a, const void *b)
{
	uint64_t x = ((const segment *)a)->seq, y = ((const segment *)b)->seq;
	return x < y ? -1 : x > y;
}

static int spool_replay(bar_agent_buffer *b, char *why, size_t wsize)
{
	DIR *d = opendir(b->dir);
	struct dirent *e;
	unsigned long long hseq = 0, hoff = 0;
	char path[700];
	FILE *f;

	if (!d) {
		snprintf(why, wsize, "%s: cannot read: %s", b->dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		char *end;
		unsigned long long seq = strtoull(e->d_name, &end, 10);
		segment *ns;
		if (strcmp(end, ".seg") || end == e->d_name)
			continue;
		if (!(ns = realloc(b->segs, (b->nsegs + 1) * sizeof(*ns)))) {
			closedir(d);
			snprintf(why, wsize, "spool: out of memory");
			return -1;
		}
		b->segs = ns;
		b->segs[b->nsegs++] = (segment){.seq = seq};
	}
	closedir(d);
	if (b->nsegs)
		qsort(b->segs, b->nsegs, sizeof(*b->segs), seq_cmp);
	snprintf(path, sizeof(path), "%s/head", b->dir);
	if ((f = fopen(path, "re"))) {
		if (fscanf(f, "%llu %llu", &hseq, &hoff) != 2)
			hseq = hoff = 0;
		fclose(f);
	}
	/* segments older than the head's were acknowledged */
	while (b->nsegs && b->segs[0].seq < hseq) {
		seg_path(path, sizeof(path), b, b->segs[0].seq);
		unlink(path);
		memmove(b->segs, b->segs + 1, (b->nsegs - 1) * sizeof(*b->segs));
		b->nsegs--;
	}
	b->head_off = b->nsegs && b->segs[0].seq == hseq ? hoff : 0;
	/* numbers only grow, so the head file never names a newer segment */
	b->last_seq = b->nsegs ? b->segs[b->nsegs - 1].seq : 0;
	if (b->last_seq < hseq)
		b->last_seq = hseq;
	for (size_t i = 0; i < b->nsegs; i++) {
		int fd;
		seg_path(path, sizeof(path), b, b->segs[i].seq);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
			scan_segment(&b->segs[i], fd, i == 0 ? b->head_off : 0);
			close(fd);
		}
		b->spool_bytes += b->segs[i].size;
		b->spool_samples += b->segs[i].samples;
	}
	/* a torn tail stays unread: the next record goes to a new segment */
	return 0;
}

int bar_agent_buffer_open(bar_agent_buffer **out, const char *spool_dir, size_t memory_max,
                          size_t spool_max, char *why, size_t wsize)
{
	bar_agent_buffer *b = calloc(1, sizeof(*b));

	if (!b) {
		snprintf(why, wsize, "out of memory");
		return -1;
	}
	b->wfd = -1;
	b->mem_max = memory_max;
	b->spool_max = spool_max;
	b->seg_max = spool_max / 8 < (4u << 20) ? spool_max / 8 : (4u << 20);
	if (b->seg_max < 1)
		b->seg_max = 1;
	if (snprintf(b->dir, sizeof(b->dir), "%s", spool_dir) >= (int)sizeof(b->dir)) {
		snprintf(why, wsize, "spool directory path too long");
		goto fail;
	}
	if (mkdir(b->dir, 0700) < 0 && errno != EEXIST) {
		snprintf(why, wsize, "%s: cannot create: %s", b->dir, strerror(errno));
		goto fail;
	}
	if (spool_replay(b, why, wsize) < 0)
		goto fail;
	*out = b;
	return 0;
fail:
	bar_agent_buffer_free(b);
	return -1;
}

int bar_agent_buffer_add(bar_agent_buffer *b, const bar_agent_sample *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const bar_agent_point *pt = &s->points[i];
		series *se = NULL;
		/* a collection lists series in the order of the one before */
		if (b->hint < b->nser && !strcmp(b->ser[b->hint].key, pt->key))
			se = &b->ser[b->hint];
		for (size_t j = 0; !se && j < b->nser; j++)
			if (!strcmp(b->ser[j].key, pt->key))
				se = &b->ser[j];
		if (!se) {
			size_t bytes = 0;
			char *k;
			if (b->nser == b->capser) {
				size_t cap = b->capser ? 2 * b->capser : 128;
				series *ns = realloc(b->ser, cap * sizeof(*ns));
				if (!ns)
					return -1;
				b->ser = ns, b->capser = cap;
			}
			se = &b->ser[b->nser];
			memset(se, 0, sizeof(*se));
			for (size_t j = 0; j < pt->nlabels; j++)
				bytes += strlen(pt->labels[j].name) + strlen(pt->labels[j].value) + 2;
			se->labels = malloc(pt->nlabels * sizeof(bar_mlabel) + bytes);
			se->key = strdup(pt->key);
			if (!se->labels || !se->key) {
				free(se->labels);
				free(se->key);
				return -1;
			}
			k = (char *)(se->labels + pt->nlabels);
			for (size_t j = 0; j < pt->nlabels; j++) {
				size_t a = strlen(pt->labels[j].name) + 1, c = strlen(pt->labels[j].value) + 1;
				memcpy(k, pt->labels[j].name, a);
				se->labels[j].name = k;
				memcpy(k + a, pt->labels[j].value, c);
				se->labels[j].value = k + a;
				k += a + c;
			}
			se->nlabels = pt->nlabels;
			b->nser++;
		}
		if (se->n == se->cap) {
			size_t cap = se->cap ? 2 * se->cap : 8;
			bar_msample *ns = realloc(se->s, cap * sizeof(*ns));
			if (!ns)
				return -1;
			se->s = ns, se->cap = cap;
		}
		se->s[se->n++] = (bar_msample){.t_ms = s->t_ms, .v = pt->v};
		b->open_samples++;
		b->hint = (size_t)(se - b->ser) + 1;
	}
	return 0;
}

static void series_clear(bar_agent_buffer *b)
{
	for (size_t i = 0; i < b->nser; i++) {
		free(b->ser[i].key);
		free(b->ser[i].labels);
		free(b->ser[i].s);
	}
	b->nser = 0;
	b->hint = 0;
	b->open_samples = 0;
}

/* Free the oldest memory batch (its samples counted dropped if given_up). */
static void mem_pop(bar_agent_buffer *b, int given_up)
{
	qitem *q = b->head;

	if (given_up)
		b->dropped += q->nsamples;
	b->head = q->next;
	if (!b->head)
		b->tail = NULL;
	b->mem_bytes -= q->len;
	b->mem_samples -= q->nsamples;
	free(q);
	b->peek_from = 0;
}

/* Move the oldest memory batch to the spool (or count it dropped when the
 * spool cannot take it). */
static int spill_one(bar_agent_buffer *b, char *why, size_t wsize)
{
	qitem *q = b->head;
	int rc;

	rc = spool_append(b, q->body, q->len, q->nsamples, why, wsize);
	mem_pop(b, rc < 0);
	return rc;
}

int bar_agent_buffer_seal(bar_agent_buffer *b, char *why, size_t wsize)
{
	bar_mbuf body = {.max = REC_MAX};
	bar_mseries *ms = NULL;
	qitem *q;
	int rc = -1;

	if (!b->nser)
		return 0;
	if (!(ms = malloc(b->nser * sizeof(*ms)))) {
		snprintf(why, wsize, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < b->nser; i++)
		ms[i] = (bar_mseries){b->ser[i].labels, b->ser[i].nlabels, b->ser[i].s, b->ser[i].n};
	if (bar_rw_encode(&body, ms, b->nser) < 0 || !(q = malloc(sizeof(*q) + body.len))) {
		snprintf(why, wsize, "out of memory encoding a batch");
		goto done;
	}
	q->next = NULL;
	q->len = body.len;
	q->nsamples = b->open_samples;
	memcpy(q->body, body.p, body.len);
	if (b->tail)
		b->tail->next = q;
	else
		b->head = q;
	b->tail = q;
	b->mem_bytes += q->len;
	b->mem_samples += q->nsamples;
	series_clear(b);
	rc = 0;
	while (b->head && b->mem_bytes > b->mem_max)
		if (spill_one(b, why, wsize) < 0)
			rc = -1;
done:
	free(ms);
	bar_mbuf_free(&body);
	return rc;
}

int bar_agent_buffer_peek(bar_agent_buffer *b, const char **body, size_t *len,
                          size_t *nsamples, char *why, size_t wsize)
{
	b->peek_from = 0;
	while (b->nsegs) {
		segment *s = &b->segs[0];
		unsigned char hdr[REC_HDR];
		char path[700];
		int fd;
		uint32_t n;

		if (b->head_off >= s->size) {
			remove_head_segment(b, 0); /* all sent */
			if (write_head(b, why, wsize) < 0)
				return -1;
			continue;
		}
		seg_path(path, sizeof(path), b, s->seq);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			snprintf(why, wsize, "%s: cannot open: %s", path, strerror(errno));
			return -1;
		}
		if (full_pread(fd, hdr, REC_HDR, (off_t)b->head_off) < 0 ||
		    (n = get32(hdr + 4)) > REC_MAX || !(free(b->peek), b->peek = malloc(n ? n : 1)) ||
		    full_pread(fd, b->peek, n, (off_t)(b->head_off + REC_HDR)) < 0 ||
		    fnv1a(b->peek, n) != get32(hdr + 12)) {
			/* unreadable from here on: give the rest of the segment up */
			close(fd);
			b->dropped += s->samples;
			b->spool_samples -= s->samples;
			s->samples = 0;
			b->head_off = s->size;
			continue;
		}
		close(fd);
		b->peek_len = n;
		b->peek_samples = get32(hdr + 8);
		b->peek_next = b->head_off + REC_HDR + n;
		b->peek_from = 1;
		*body = b->peek, *len = n, *nsamples = b->peek_samples;
		return 0;
	}
	if (b->head) {
		b->peek_from = 2;
		*body = b->head->body, *len = b->head->len, *nsamples = b->head->nsamples;
		return 0;
	}
	return 1;
}

int bar_agent_buffer_pop(bar_agent_buffer *b, int dropped, char *why, size_t wsize)
{
	if (b->peek_from == 1 && b->nsegs) {
		uint64_t n = b->peek_samples < b->segs[0].samples ? b->peek_samples : b->segs[0].samples;
		b->segs[0].samples -= n;
		b->spool_samples -= n;
		if (dropped)
			b->dropped += n;
		b->head_off = b->peek_next;
		b->peek_from = 0;
		return write_head(b, why, wsize);
	}
	if (b->peek_from == 2 && b->head)
		mem_pop(b, dropped);
	b->peek_from = 0;
	return 0;
}

uint64_t bar_agent_buffer_pending(const bar_agent_buffer *b)
{
	return b->open_samples + b->mem_samples + b->spool_samples;
}

uint64_t bar_agent_buffer_dropped(const bar_agent_buffer *b)
{
	return b->dropped;
}

int bar_agent_buffer_persist(bar_agent_buffer *b, char *why, size_t wsize)
{
	int rc = bar_agent_buffer_seal(b, why, wsize);

	while (b->head)
		if (spill_one(b, why, wsize) < 0)
			rc = -1;
	return rc;
}

void bar_agent_buffer_free(bar_agent_buffer *b)
{
	if (!b)
		return;
	series_clear(b);
	free(b->ser);
	while (b->head) {
		qitem *q = b->head;
		b->head = q->next;
		free(q);
	}
	if (b->wfd >= 0)
		close(b->wfd);
	free(b->segs);
	free(b->peek);
	free(b);
}
