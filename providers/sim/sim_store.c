/*
 * sim_store.c - the sim provider's append-only log store (see sim_store.h).
 *
 * Loading must be fast (100k records in a few tens of milliseconds), so a
 * line is never parsed as JSON: the file is read into one buffer (an arena),
 * tabs and newlines become NULs in place, and each record is a small struct
 * whose fields point into the arena; a record written later holds its own
 * copy of its line.  Nothing is copied again to list: the fields are
 * emitted as they lie.
 * The index is a chained hash on (region, system_id) plus a list in file
 * order, which is the order list() reports.
 *
 * Cross-process protocol: appends are single write()s on an O_APPEND
 * descriptor under flock(LOCK_EX); compaction writes a new file, locks it,
 * and renames it over the old one, so a process that finds the path's inode
 * changed reopens and reloads, and one that finds the file grew reads only
 * the new tail.
 */
#include "sim_store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIM_BUCKETS_MIN 1024
#define SIM_COMPACT_MIN_DEAD 64     /* below this, compaction is not worth it */
#define SIM_COMPACT_CHUNK (1 << 20) /* write buffer while compacting */

/* One buffer of file text that loaded records point into; freed when the
 * last of them goes (the loader holds a reference while it parses). */
struct sim_arena {
	size_t refs;
	char data[];
};

typedef struct sim_flight {
	struct sim_flight *next;
	int n;
	char region[];
} sim_flight;

struct sim_store {
	char *path;
	int fd;
	pid_t pid;        /* process that opened fd (a forked child reopens) */
	dev_t dev;
	ino_t ino;
	uint64_t size;    /* bytes of the file reflected in the index */
	int file_locked;  /* LOCK_EX held for a write transaction */
	pthread_mutex_t mu;
	sim_rec **buckets;
	size_t nbuckets, count;
	size_t lines;     /* lines in the file, live or dead */
	sim_rec *head, *tail;
	uint64_t seq;     /* highest id number seen */
	pthread_mutex_t flight_mu;
	sim_flight *flights;
};

static void err_set(sim_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void err_set(sim_err *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/* ---- the index ---- */

static void rec_free(sim_rec *rec)
{
	if (rec->arena && --rec->arena->refs == 0)
		free(rec->arena);
	free(rec);
}

static void arena_unref(sim_arena *a)
{
	if (a && --a->refs == 0)
		free(a);
}

static uint64_t key_hash(const char *region, const char *system_id)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const unsigned char *p = (const unsigned char *)region; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	h = (h ^ 0xff) * 0x100000001b3ULL; /* separator no field contains */
	for (const unsigned char *p = (const unsigned char *)system_id; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	return h;
}

static sim_rec **bucket_of(sim_store *st, uint64_t hash)
{
	return &st->buckets[hash & (st->nbuckets - 1)];
}

static sim_rec **chain_find(sim_store *st, uint64_t hash, const char *region,
                            const char *system_id)
{
	sim_rec **pp = bucket_of(st, hash);

	for (; *pp; pp = &(*pp)->hnext) {
		if ((*pp)->hash == hash && strcmp((*pp)->system_id, system_id) == 0 &&
		    strcmp((*pp)->region, region) == 0)
			break;
	}
	return pp;
}

static void index_grow(sim_store *st)
{
	size_t n = st->nbuckets * 2;
	sim_rec **b = calloc(n, sizeof(*b));

	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < st->nbuckets; i++) {
		sim_rec *r = st->buckets[i], *next;

		for (; r; r = next) {
			next = r->hnext;
			r->hnext = b[r->hash & (n - 1)];
			b[r->hash & (n - 1)] = r;
		}
	}
	free(st->buckets);
	st->buckets = b;
	st->nbuckets = n;
}

/* Index rec, replacing (and freeing) a record with the same key in place. */
static void index_put(sim_store *st, sim_rec *rec)
{
	sim_rec **pp = chain_find(st, rec->hash, rec->region, rec->system_id);
	sim_rec *old = *pp;

	if (old) {
		rec->hnext = old->hnext;
		rec->prev = old->prev;
		rec->next = old->next;
		*(rec->prev ? &rec->prev->next : &st->head) = rec;
		*(rec->next ? &rec->next->prev : &st->tail) = rec;
		*pp = rec;
		rec_free(old);
		return;
	}
	rec->hnext = NULL;
	*pp = rec;
	rec->prev = st->tail;
	rec->next = NULL;
	*(st->tail ? &st->tail->next : &st->head) = rec;
	st->tail = rec;
	if (++st->count > st->nbuckets)
		index_grow(st);
}

static void index_drop(sim_store *st, const char *region, const char *system_id)
{
	uint64_t hash = key_hash(region, system_id);
	sim_rec **pp = chain_find(st, hash, region, system_id);
	sim_rec *rec = *pp;

	if (!rec)
		return;
	*pp = rec->hnext;
	*(rec->prev ? &rec->prev->next : &st->head) = rec->next;
	*(rec->next ? &rec->next->prev : &st->tail) = rec->prev;
	st->count--;
	rec_free(rec);
}

static void index_clear(sim_store *st)
{
	sim_rec *r = st->head, *next;

	for (; r; r = next) {
		next = r->next;
		rec_free(r);
	}
	memset(st->buckets, 0, st->nbuckets * sizeof(*st->buckets));
	st->head = st->tail = NULL;
	st->count = 0;
	st->lines = 0;
	st->size = 0;
}

/* ---- parsing lines ---- */

/* The number after the last '-' of an id, if it is all hex; else 0. */
static uint64_t id_seq(const char *id)
{
	const char *p = strrchr(id, '-');
	uint64_t v = 0;

	if (!p || !p[1] || strlen(p + 1) > 16)
		return 0;
	for (p++; *p; p++) {
		int d = (*p >= '0' && *p <= '9') ? *p - '0'
		        : (*p >= 'a' && *p <= 'f') ? *p - 'a' + 10 : -1;

		if (d < 0)
			return 0;
		v = v << 4 | (uint64_t)d;
	}
	return v;
}

/* Split text (len bytes, NUL at text[len]) at tabs into exactly n fields. */
static int split_fields(char *text, size_t len, const char **f, int n)
{
	char *p = text, *end = text + len;
	int i = 0;

	for (;;) {
		char *tab = memchr(p, '\t', (size_t)(end - p));

		if (i == n)
			return -1;
		f[i++] = p;
		if (!tab)
			break;
		*tab = '\0';
		p = tab + 1;
	}
	return i == n ? 0 : -1;
}

/* Apply one line of len bytes; line[len] (its '\n') may be overwritten.
 * With an arena the line lies in it and a new record points into it;
 * without, the record gets its own copy.  Returns 0 (and, for a P line, the
 * new record in *added if asked) or -1 if malformed or out of memory. */
static int apply_line(sim_store *st, char *line, size_t len, sim_arena *arena,
                      sim_rec **added)
{
	const char *f[7];

	line[len] = '\0';
	if (len > 2 && line[0] == 'P' && line[1] == '\t') {
		sim_rec *rec = malloc(sizeof(*rec) + (arena ? 0 : len - 1));
		char *text = arena ? line + 2 : rec ? rec->text : NULL;
		uint64_t seq;

		if (!rec)
			return -1;
		if (!arena)
			memcpy(text, line + 2, len - 1);
		if (split_fields(text, len - 2, f, 7) < 0) {
			free(rec);
			return -1;
		}
		rec->arena = arena;
		if (arena)
			arena->refs++;
		rec->type = f[0], rec->region = f[1], rec->system_id = f[2];
		rec->name = f[3], rec->status = f[4], rec->attrs = f[5], rec->tags = f[6];
		rec->hash = key_hash(rec->region, rec->system_id);
		seq = id_seq(rec->system_id);
		if (seq > st->seq)
			st->seq = seq;
		index_put(st, rec);
		if (added)
			*added = rec;
	} else if (len > 2 && line[0] == 'D' && line[1] == '\t') {
		if (split_fields(line + 2, len - 2, f, 3) < 0)
			return -1;
		index_drop(st, f[1], f[2]);
	} else if (len > 2 && line[0] == 'S' && line[1] == '\t') {
		uint64_t v = strtoull(line + 2, NULL, 10);

		if (v > st->seq)
			st->seq = v;
	} else {
		return -1;
	}
	st->lines++;
	return 0;
}

/* Read bytes [from, to) of the file into an arena and apply every complete
 * line; the index then reflects the file up to the last newline. */
static int load_range(sim_store *st, uint64_t from, uint64_t to, sim_err *err)
{
	size_t len = (size_t)(to - from), got = 0, pos = 0;
	sim_arena *arena = malloc(sizeof(*arena) + len + 1);
	char *buf;
	int rc = -1;

	if (!arena) {
		err_set(err, "store %s: out of memory loading %zu bytes", st->path, len);
		return -1;
	}
	arena->refs = 1; /* ours, while parsing */
	buf = arena->data;
	while (got < len) {
		ssize_t n = pread(st->fd, buf + got, len - got, (off_t)(from + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err_set(err, "store %s: read: %s", st->path,
			        n < 0 ? strerror(errno) : "file shrank while reading");
			goto done;
		}
		got += (size_t)n;
	}
	while (pos < len) {
		char *nl = memchr(buf + pos, '\n', len - pos);

		if (!nl)
			break; /* a line still being written */
		if (apply_line(st, buf + pos, (size_t)(nl - (buf + pos)), arena, NULL) < 0) {
			err_set(err, "store %s: malformed line at byte %llu", st->path,
			        (unsigned long long)(from + pos));
			goto done;
		}
		pos = (size_t)(nl - buf) + 1;
	}
	rc = 0;
done:
	st->size = from + pos;
	arena_unref(arena);
	return rc;
}

/* ---- the file ---- */

static int file_open(sim_store *st, sim_err *err)
{
	struct stat sb;
	int fd = open(st->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	if (fd < 0 || fstat(fd, &sb) < 0) {
		err_set(err, "store %s: open: %s", st->path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (st->fd >= 0)
		close(st->fd);
	st->fd = fd;
	st->pid = getpid();
	if (sb.st_dev != st->dev || sb.st_ino != st->ino)
		index_clear(st); /* another file: load it from the start */
	st->dev = sb.st_dev;
	st->ino = sb.st_ino;
	return 0;
}

/* flock the file the path names now: if compaction replaced it while we
 * waited, reopen and lock the new one. */
static int file_lock(sim_store *st, int how, sim_err *err)
{
	struct stat sb;

	/* A forked child must not share the parent's open file description:
	 * flock would then not tell the two apart. */
	if (st->pid != getpid() && file_open(st, err) < 0)
		return -1;
	for (int tries = 0; tries < 100; tries++) {
		while (flock(st->fd, how) < 0) {
			if (errno != EINTR) {
				err_set(err, "store %s: flock: %s", st->path, strerror(errno));
				return -1;
			}
		}
		if (stat(st->path, &sb) == 0 && sb.st_dev == st->dev && sb.st_ino == st->ino)
			return 0;
		flock(st->fd, LOCK_UN);
		if (file_open(st, err) < 0)
			return -1;
	}
	err_set(err, "store %s: the file keeps being replaced", st->path);
	return -1;
}

/* With the file locked: bring the index up to the file's current end. */
static int file_sync(sim_store *st, sim_err *err)
{
	struct stat sb;

	if (fstat(st->fd, &sb) < 0) {
		err_set(err, "store %s: fstat: %s", st->path, strerror(errno));
		return -1;
	}
	if ((uint64_t)sb.st_size < st->size)
		index_clear(st); /* truncated under us: start over */
	if ((uint64_t)sb.st_size > st->size &&
	    load_range(st, st->size, (uint64_t)sb.st_size, err) < 0)
		return -1;
	/* A torn line left by a crashed writer would swallow our next append;
	 * with the exclusive lock nobody is writing, so it is garbage. */
	if (st->file_locked && (uint64_t)sb.st_size > st->size &&
	    ftruncate(st->fd, (off_t)st->size) < 0) {
		err_set(err, "store %s: truncate torn line: %s", st->path, strerror(errno));
		return -1;
	}
	return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Append one line with a single write(); undo a partial one. */
static int file_append(sim_store *st, const char *line, size_t len, sim_err *err)
{
	ssize_t n;

	do
		n = write(st->fd, line, len);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)len) {
		st->size += len;
		st->lines++;
		return 0;
	}
	err_set(err, "store %s: write: %s", st->path, n < 0 ? strerror(errno) : "short write");
	if (n > 0 && ftruncate(st->fd, (off_t)st->size) < 0)
		err_set(err, "store %s: short write, and truncating it back failed: %s",
		        st->path, strerror(errno));
	return -1;
}

/* Format "P\t<fields...>\n" for r into buf, which has room for
 * rec_line_len(r) bytes; returns the bytes written. */
static size_t format_rec(char *buf, const sim_rec *r)
{
	const char *f[7] = { r->type, r->region, r->system_id, r->name, r->status,
		             r->attrs, r->tags };
	size_t n = 0;

	buf[n++] = 'P';
	for (int i = 0; i < 7; i++) {
		size_t l = strlen(f[i]);

		buf[n++] = '\t';
		memcpy(buf + n, f[i], l);
		n += l;
	}
	buf[n++] = '\n';
	return n;
}

static size_t rec_line_len(const sim_rec *r)
{
	return 2 + 7 + strlen(r->type) + strlen(r->region) + strlen(r->system_id) +
	       strlen(r->name) + strlen(r->status) + strlen(r->attrs) + strlen(r->tags);
}

/* Write the live records to fd (the S line first).  Returns bytes, or -1. */
static int64_t compact_write(sim_store *st, int fd)
{
	char *buf = malloc(SIM_COMPACT_CHUNK);
	size_t n;
	int64_t total = 0;

	if (!buf)
		return -1;
	n = (size_t)snprintf(buf, 64, "S\t%llu\n", (unsigned long long)st->seq);
	for (sim_rec *r = st->head; r; r = r->next) {
		size_t l = rec_line_len(r);

		if (n + l > SIM_COMPACT_CHUNK) {
			if (write_all(fd, buf, n) < 0)
				goto fail;
			total += (int64_t)n;
			n = 0;
		}
		if (l > SIM_COMPACT_CHUNK) { /* a huge record goes on its own */
			char *big = malloc(l);
			int bad = !big || write_all(fd, big, format_rec(big, r)) < 0;

			free(big);
			if (bad)
				goto fail;
			total += (int64_t)l;
			continue;
		}
		n += format_rec(buf + n, r);
	}
	if (n && write_all(fd, buf, n) < 0)
		goto fail;
	total += (int64_t)n;
	free(buf);
	return total;
fail:
	free(buf);
	return -1;
}

/* Rewrite the file with only live records.  Best effort: on any failure
 * the old file stays as it was. */
static void compact(sim_store *st)
{
	char tmp[4200];
	struct stat sb;
	int64_t written;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.compact.%d", st->path, (int)getpid());
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	/* Locked before it appears under the path, so nobody appends to it
	 * until we have recorded its size. */
	if (flock(fd, LOCK_EX) < 0 || (written = compact_write(st, fd)) < 0 ||
	    fstat(fd, &sb) < 0 || rename(tmp, st->path) < 0) {
		unlink(tmp);
		close(fd);
		return;
	}
	close(st->fd); /* releases the old file's lock; waiters will reopen */
	st->fd = fd;
	st->dev = sb.st_dev;
	st->ino = sb.st_ino;
	st->size = (uint64_t)written;
	st->lines = st->count + 1;
}

/* ---- the API ---- */

int sim_store_open(sim_store **out, const char *path, sim_err *err)
{
	sim_store *st = calloc(1, sizeof(*st));

	if (!st) {
		err_set(err, "store %s: out of memory", path);
		return -1;
	}
	pthread_mutex_init(&st->mu, NULL);
	pthread_mutex_init(&st->flight_mu, NULL);
	st->fd = -1;
	if (!(st->path = strdup(path)) ||
	    !(st->buckets = calloc(SIM_BUCKETS_MIN, sizeof(*st->buckets)))) {
		err_set(err, "store %s: out of memory", path);
		goto fail;
	}
	st->nbuckets = SIM_BUCKETS_MIN;
	if (strlen(path) > 4096) {
		err_set(err, "store path longer than 4096 bytes");
		goto fail;
	}
	if (file_open(st, err) < 0 || sim_store_begin(st, 0, err) < 0)
		goto fail;
	sim_store_end(st);
	*out = st;
	return 0;
fail:
	sim_store_free(st);
	return -1;
}

void sim_store_free(sim_store *st)
{
	if (!st)
		return;
	if (st->buckets)
		index_clear(st);
	while (st->flights) {
		sim_flight *f = st->flights;

		st->flights = f->next;
		free(f);
	}
	if (st->fd >= 0)
		close(st->fd);
	pthread_mutex_destroy(&st->mu);
	pthread_mutex_destroy(&st->flight_mu);
	free(st->buckets);
	free(st->path);
	free(st);
}

const char *sim_store_path(const sim_store *st)
{
	return st->path;
}

int sim_store_begin(sim_store *st, int write, sim_err *err)
{
	struct stat sb;

	pthread_mutex_lock(&st->mu);
	if (write) {
		if (file_lock(st, LOCK_EX, err) < 0)
			goto fail;
		st->file_locked = 1;
		if (file_sync(st, err) < 0)
			goto fail;
		return 0;
	}
	/* Reading: only touch the lock when someone else changed the file. */
	if (st->pid == getpid() && stat(st->path, &sb) == 0 && sb.st_dev == st->dev &&
	    sb.st_ino == st->ino && (uint64_t)sb.st_size == st->size)
		return 0;
	if (file_lock(st, LOCK_SH, err) < 0)
		goto fail;
	if (file_sync(st, err) < 0) {
		flock(st->fd, LOCK_UN);
		goto fail;
	}
	flock(st->fd, LOCK_UN);
	return 0;
fail:
	if (st->file_locked)
		flock(st->fd, LOCK_UN);
	st->file_locked = 0;
	pthread_mutex_unlock(&st->mu);
	return -1;
}

void sim_store_end(sim_store *st)
{
	if (st->file_locked) {
		size_t dead = st->lines - st->count;

		if (dead > st->count && dead >= SIM_COMPACT_MIN_DEAD)
			compact(st);
		flock(st->fd, LOCK_UN);
		st->file_locked = 0;
	}
	pthread_mutex_unlock(&st->mu);
}

sim_rec *sim_store_find(sim_store *st, const char *region, const char *system_id)
{
	return *chain_find(st, key_hash(region, system_id), region, system_id);
}

sim_rec *sim_store_first(sim_store *st)
{
	return st->head;
}

uint64_t sim_store_next_seq(sim_store *st)
{
	return ++st->seq;
}

static int field_ok(const char *s)
{
	return strpbrk(s, "\t\n") == NULL;
}

sim_rec *sim_store_put(sim_store *st, const char *type, const char *region,
                       const char *system_id, const char *name, const char *status,
                       const char *attrs, const char *tags, sim_err *err)
{
	sim_rec tmp = { .type = type, .region = region, .system_id = system_id,
		        .name = name, .status = status, .attrs = attrs, .tags = tags };
	size_t len = rec_line_len(&tmp);
	char *line;
	sim_rec *rec = NULL;

	/* The arguments may point into the record this put replaces: they are
	 * copied into the line before that record is freed. */
	if (!field_ok(type) || !field_ok(region) || !field_ok(system_id) ||
	    !field_ok(name) || !field_ok(status) || !field_ok(attrs) || !field_ok(tags)) {
		err_set(err, "store %s: a field holds a tab or newline", st->path);
		return NULL;
	}
	line = malloc(len + 1);
	if (!line) {
		err_set(err, "store %s: out of memory", st->path);
		return NULL;
	}
	format_rec(line, &tmp);
	line[len] = '\0';
	if (file_append(st, line, len, err) == 0) {
		st->lines--; /* apply_line counts it */
		if (apply_line(st, line, len - 1, NULL, &rec) < 0)
			err_set(err, "store %s: out of memory", st->path);
	}
	free(line);
	return rec;
}

int sim_store_delete(sim_store *st, sim_rec *rec, sim_err *err)
{
	char *line;
	int n, rc;

	n = asprintf(&line, "D\t%s\t%s\t%s\n", rec->type, rec->region, rec->system_id);
	if (n < 0) {
		err_set(err, "store %s: out of memory", st->path);
		return -1;
	}
	rc = file_append(st, line, (size_t)n, err);
	if (rc == 0)
		index_drop(st, rec->region, rec->system_id);
	free(line);
	return rc;
}

int sim_store_enter(sim_store *st, const char *region, int limit)
{
	sim_flight *f;
	int rc = 0;

	pthread_mutex_lock(&st->flight_mu);
	for (f = st->flights; f; f = f->next) {
		if (strcmp(f->region, region) == 0)
			break;
	}
	if (!f && (f = calloc(1, sizeof(*f) + strlen(region) + 1))) {
		strcpy(f->region, region);
		f->next = st->flights;
		st->flights = f;
	}
	if (!f || (limit > 0 && f->n >= limit))
		rc = -1;
	else
		f->n++;
	pthread_mutex_unlock(&st->flight_mu);
	return rc;
}

void sim_store_leave(sim_store *st, const char *region)
{
	pthread_mutex_lock(&st->flight_mu);
	for (sim_flight *f = st->flights; f; f = f->next) {
		if (strcmp(f->region, region) == 0) {
			f->n--;
			break;
		}
	}
	pthread_mutex_unlock(&st->flight_mu);
}
