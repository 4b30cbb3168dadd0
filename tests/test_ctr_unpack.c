/*
 * test_ctr_unpack.c - bar_ctr_unpack and bar_ctr_gc (runtime/agent) on
 * layers this test writes itself: tar headers by hand (ustar, pax, GNU
 * long names) so it can also write what a hostile image would (".." paths,
 * absolute paths, hard links out of the rootfs), gzip through zlib, and the
 * blobs under an OCI layout's blobs/sha256/.  Checks the unpacked tree
 * (whiteouts, opaque dirs, symlinks, hard links, modes), that symlinks of a
 * lower layer cannot lead out, and that every refusal leaves nothing behind.
 */
#include "check.h"
#include "ctr.h"
#include "ssh_sha256.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>

#define TAR_BLOCK_T 512
static char tmp[] = "/tmp/test_ctr_unpack.XXXXXX";
static char blobs[512], cache[512];

/* ---- a tar writer ---- */

typedef struct tarw {
	unsigned char *p;
	size_t len;
} tarw;

static void tw_put(tarw *t, const void *d, size_t n)
{
	t->p = realloc(t->p, t->len + n + 512);
	memcpy(t->p + t->len, d, n);
	t->len += n;
}

static void tw_pad(tarw *t)
{
	static const unsigned char z[512];
	if (t->len % 512)
		tw_put(t, z, 512 - t->len % 512);
}

static void tw_header(tarw *t, char type, const char *name, unsigned mode, size_t size,
                      const char *link)
{
	unsigned char h[512];
	unsigned sum = 0;

	memset(h, 0, sizeof(h));
	snprintf((char *)h, 100, "%s", name);
	snprintf((char *)h + 100, 8, "%07o", mode);
	snprintf((char *)h + 108, 8, "%07o", 0);
	snprintf((char *)h + 116, 8, "%07o", 0);
	snprintf((char *)h + 124, 12, "%011zo", size);
	snprintf((char *)h + 136, 12, "%011o", 1700000000);
	h[156] = (unsigned char)type;
	if (link)
		snprintf((char *)h + 157, 100, "%s", link);
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	tw_put(t, h, 512);
}

/* An entry; names over 99 bytes go in a pax header first. */
static void tw_entry(tarw *t, char type, const char *name, unsigned mode, const char *data,
                     const char *link)
{
	size_t n = data ? strlen(data) : 0;

	if (strlen(name) > 99) {
		char rec[4200];
		size_t len = strlen(name) + strlen(" path=\n"), digits = 1;
		for (size_t v = len; v >= 10; v /= 10)
			digits++;
		len += digits;
		if (snprintf(NULL, 0, "%zu", len) != (int)digits)
			len++;
		snprintf(rec, sizeof(rec), "%zu path=%s\n", len, name);
		tw_header(t, 'x', "PaxHeaders/x", 0644, strlen(rec), NULL);
		tw_put(t, rec, strlen(rec));
		tw_pad(t);
	}
	tw_header(t, type, strlen(name) > 99 ? "long-name-stub" : name, mode, n, link);
	if (n) {
		tw_put(t, data, n);
		tw_pad(t);
	}
}

/* A pax header with one record "key=value" for the next entry. */
static void tw_pax(tarw *t, const char *key, const char *value)
{
	char rec[600];
	size_t body = strlen(key) + strlen(value) + 3, len = body + 1;

	while ((size_t)snprintf(NULL, 0, "%zu", len) + body != len)
		len++;
	snprintf(rec, sizeof(rec), "%zu %s=%s\n", len, key, value);
	tw_header(t, 'x', "PaxHeaders/x", 0644, strlen(rec), NULL);
	tw_put(t, rec, strlen(rec));
	tw_pad(t);
}

/* A GNU long name ('L') for the next entry. */
static void tw_gnu_long(tarw *t, const char *name)
{
	tw_header(t, 'L', "././@LongLink", 0644, strlen(name) + 1, NULL);
	tw_put(t, name, strlen(name) + 1);
	tw_pad(t);
}

static void tw_end(tarw *t)
{
	static const unsigned char z[1024];
	tw_put(t, z, sizeof(z));
}

static void hex_of(char *out, const unsigned char *d, size_t n)
{
	uint8_t sum[BAR_SHA256_LEN];
	bar_sha256_digest(sum, d, n);
	for (int i = 0; i < BAR_SHA256_LEN; i++)
		sprintf(out + 2 * i, "%02x", sum[i]);
}

/* gzip d[n] (one member) into a fresh buffer. */
static unsigned char *gzip_of(const unsigned char *d, size_t n, size_t *out_n)
{
	z_stream z = { 0 };
	size_t cap = n + n / 2 + 1024;
	unsigned char *o = malloc(cap);

	deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (unsigned char *)d, z.avail_in = (uInt)n;
	z.next_out = o, z.avail_out = (uInt)cap;
	deflate(&z, Z_FINISH);
	*out_n = cap - z.avail_out;
	deflateEnd(&z);
	return o;
}

/* Store bytes as a blob and describe it as a layer. */
static void blob_put(bar_ctr_layer *l, const unsigned char *d, size_t n, int gzip,
                     int bad_digest)
{
	char hex[65], path[700];
	FILE *f;

	hex_of(hex, d, n);
	if (bad_digest) /* a corrupt blob: stored under a name that is not its hash */
		hex[0] = hex[0] == 'a' ? 'b' : 'a';
	snprintf(path, sizeof(path), "%s/sha256/%s", blobs, hex);
	f = fopen(path, "wb");
	fwrite(d, 1, n, f);
	fclose(f);
	snprintf(l->digest, sizeof(l->digest), "sha256:%s", hex);
	l->gzip = gzip;
}

/* A tar as a layer, gzip'd when gzip. */
static void layer_of(bar_ctr_layer *l, tarw *t, int gzip)
{
	if (gzip) {
		size_t gn;
		unsigned char *g = gzip_of(t->p, t->len, &gn);
		blob_put(l, g, gn, 1, 0);
		free(g);
	} else {
		blob_put(l, t->p, t->len, 0, 0);
	}
	free(t->p);
	t->p = NULL, t->len = 0;
}

static const char *manifest(int n)
{
	static char d[80];
	char s[32];
	snprintf(s, sizeof(s), "manifest-%d", n);
	snprintf(d, sizeof(d), "sha256:");
	hex_of(d + 7, (const unsigned char *)s, strlen(s));
	return d;
}

static int exists(const char *root, const char *rel)
{
	char p[1024];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	return lstat(p, &st) == 0;
}

static int file_is(const char *root, const char *rel, const char *want)
{
	char p[1024], buf[256];
	FILE *f;
	size_t n;
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	if (!(f = fopen(p, "rb")))
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return !strcmp(buf, want);
}

/* The cache holds nothing but its complete rootfs dirs (no temp dirs). */
static int cache_entries(void)
{
	DIR *d = opendir(cache);
	struct dirent *de;
	int n = 0;
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' || strncmp(de->d_name, ".tmp", 4) == 0)
			n += de->d_name[0] == '.' ? 100 : 1; /* a temp dir counts loudly */
	closedir(d);
	return n;
}

static void test_tree(void)
{
	tarw t = { 0 };
	bar_ctr_layer l[2];
	char root[1024], why[512] = "", p[1024], q[1024], lnk[256];
	char longname[300], gnuname[300];
	struct stat a, b;
	ssize_t n;

	memset(longname, 0, sizeof(longname));
	snprintf(longname, sizeof(longname), "deep/%s/%s/file",
	         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	         "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	snprintf(gnuname, sizeof(gnuname), "gnu/%s/name", longname);
	/* layer 1 */
	tw_entry(&t, '5', "./", 0755, NULL, NULL);
	tw_entry(&t, '5', "./etc/", 0755, NULL, NULL);
	tw_entry(&t, '0', "./etc/a", 0644, "A", NULL);
	tw_entry(&t, '0', "./etc/b", 0600, "B1", NULL);
	tw_entry(&t, '5', "bin", 0755, NULL, NULL);
	tw_entry(&t, '0', "bin/busybox", 04755, "ELF", NULL);
	tw_entry(&t, '2', "bin/sh", 0777, NULL, "busybox");
	tw_entry(&t, '1', "bin/ls", 0755, NULL, "bin/busybox");
	tw_entry(&t, '5', "d", 0750, NULL, NULL);
	tw_entry(&t, '0', "d/x", 0644, "x", NULL);
	tw_entry(&t, '5', "d/sub", 0755, NULL, NULL);
	tw_entry(&t, '0', "d/sub/y", 0644, "y", NULL);
	tw_entry(&t, '0', "gone/dir/file", 0644, "g", NULL); /* parents made implicitly */
	tw_entry(&t, '0', longname, 0644, "long", NULL);
	tw_entry(&t, '6', "fifo", 0644, NULL, NULL);
	tw_entry(&t, '3', "dev/null", 0666, NULL, NULL); /* skipped */
	tw_entry(&t, '2', "esc", 0777, NULL, "/");
	tw_entry(&t, '2', "up", 0777, NULL, "../../../../../../..");
	tw_entry(&t, '0', "a/../c", 0644, "c", NULL); /* .. that stays inside */
	tw_pax(&t, "SCHILY.xattr.user.barista", "kept");
	tw_entry(&t, '0', "xattr", 0644, "x", NULL);
	tw_gnu_long(&t, gnuname);
	tw_entry(&t, '0', "stub", 0644, "gnu", NULL);
	tw_entry(&t, '0', "olddir/", 0755, NULL, NULL); /* a dir by its slash */
	tw_end(&t);
	layer_of(&l[0], &t, 0);
	/* layer 2, gzip: whiteouts, opaque dir, replacements, writes through symlinks */
	tw_entry(&t, '0', "etc/.wh.a", 0644, NULL, NULL);
	tw_entry(&t, '0', "etc/b", 0644, "B2", NULL);
	tw_entry(&t, '5', "d", 0755, NULL, NULL);
	tw_entry(&t, '0', "d/.wh..wh..opq", 0644, NULL, NULL);
	tw_entry(&t, '0', "d/new", 0644, "new", NULL);
	tw_entry(&t, '0', "gone/.wh.dir", 0644, NULL, NULL);
	tw_entry(&t, '0', "bin/sh", 0755, "now a file", NULL);
	tw_entry(&t, '0', "esc/ctr-test-escaped", 0644, "in", NULL);
	tw_entry(&t, '0', "up/ctr-test-escaped2", 0644, "in", NULL);
	tw_end(&t);
	layer_of(&l[1], &t, 1);

	CHECK(bar_ctr_unpack(root, sizeof(root), blobs, cache, manifest(1), l, 2, why,
	                     sizeof(why)) == 0);
	if (why[0] && failures)
		fprintf(stderr, "why: %s\n", why);
	snprintf(p, sizeof(p), "%s/%s/rootfs", cache, manifest(1) + 7);
	CHECK(!strcmp(root, p));
	CHECK(!exists(root, "etc/a"));
	CHECK(file_is(root, "etc/b", "B2"));
	CHECK(file_is(root, "bin/busybox", "ELF"));
	CHECK(file_is(root, "bin/sh", "now a file"));
	snprintf(p, sizeof(p), "%s/bin/busybox", root);
	snprintf(q, sizeof(q), "%s/bin/ls", root);
	CHECK(stat(p, &a) == 0 && stat(q, &b) == 0 && a.st_ino == b.st_ino);
	CHECK((a.st_mode & 07777) == 04755);
	CHECK(!exists(root, "d/x") && !exists(root, "d/sub"));
	CHECK(file_is(root, "d/new", "new"));
	snprintf(p, sizeof(p), "%s/d", root);
	CHECK(stat(p, &a) == 0 && (a.st_mode & 0777) == 0755);
	CHECK(exists(root, "gone") && !exists(root, "gone/dir"));
	CHECK(file_is(root, longname, "long"));
	snprintf(p, sizeof(p), "%s/fifo", root);
	CHECK(lstat(p, &a) == 0 && S_ISFIFO(a.st_mode));
	CHECK(!exists(root, "dev/null"));
	snprintf(p, sizeof(p), "%s/esc", root);
	n = readlink(p, lnk, sizeof(lnk) - 1);
	CHECK(n == 1 && lnk[0] == '/');
	/* the writes through "esc" -> / and "up" -> ../.. landed inside */
	CHECK(file_is(root, "ctr-test-escaped", "in"));
	CHECK(file_is(root, "ctr-test-escaped2", "in"));
	CHECK(access("/ctr-test-escaped", F_OK) != 0 && access("/ctr-test-escaped2", F_OK) != 0);
	CHECK(file_is(root, "c", "c"));
	CHECK(file_is(root, gnuname, "gnu"));
	snprintf(p, sizeof(p), "%s/olddir", root);
	CHECK(stat(p, &a) == 0 && S_ISDIR(a.st_mode));
	snprintf(p, sizeof(p), "%s/xattr", root);
	n = getxattr(p, "user.barista", lnk, sizeof(lnk));
	CHECK(n == 4 && !memcmp(lnk, "kept", 4));
	snprintf(p, sizeof(p), "%s/etc/b", root);
	CHECK(stat(p, &a) == 0 && a.st_mtime == 1700000000);

	/* there already: 0 at once, the blobs are not read again */
	snprintf(p, sizeof(p), "%s/sha256/%s", blobs, l[0].digest + 7);
	unlink(p);
	CHECK(bar_ctr_unpack(q, sizeof(q), blobs, cache, manifest(1), l, 2, why,
	                     sizeof(why)) == 0);
	CHECK(!strcmp(q, root));
	CHECK(cache_entries() == 1);
}

/* One layer that must be refused with a message containing want. */
static void refused(int id, tarw *t, int gzip, int mode, const char *want)
{
	bar_ctr_layer l;
	char root[1024] = "unchanged", why[512] = "";
	int before = cache_entries();

	if (mode == 0) {
		layer_of(&l, t, gzip);
	} else if (mode == 1) { /* wrong digest */
		size_t gn = t->len;
		unsigned char *g = gzip ? gzip_of(t->p, t->len, &gn) : t->p;
		blob_put(&l, g, gn, gzip, 1);
		if (g != t->p)
			free(g);
		free(t->p), t->p = NULL, t->len = 0;
	} else { /* gzip cut in half (digest of what is stored) */
		size_t gn;
		unsigned char *g = gzip_of(t->p, t->len, &gn);
		blob_put(&l, g, gn / 2, 1, 0);
		free(g), free(t->p), t->p = NULL, t->len = 0;
	}
	CHECK(bar_ctr_unpack(root, sizeof(root), blobs, cache, manifest(id), &l, 1, why,
	                     sizeof(why)) == -1);
	if (!strstr(why, want) || !strstr(why, l.digest)) {
		fprintf(stderr, "case %d: want \"%s\" in: %s\n", id, want, why);
		failures++;
	}
	CHECK(!strcmp(root, "unchanged"));
	CHECK(cache_entries() == before); /* no rootfs, no temp dir */
}

static void test_refusals(void)
{
	tarw t = { 0 };

	tw_entry(&t, '0', "ok", 0644, "fine", NULL);
	tw_entry(&t, '0', "x/../../evil", 0644, "evil", NULL);
	tw_end(&t);
	refused(10, &t, 0, 0, "outside the rootfs");

	/* absolute names are the rootfs' (as GNU tar and containerd take them) */
	tw_entry(&t, '5', "/", 0755, NULL, NULL);
	tw_entry(&t, '0', "/ctr-test-abs", 0644, "abs", NULL);
	tw_end(&t);
	{
		bar_ctr_layer l;
		char root[1024], why[512] = "", in[1100];
		layer_of(&l, &t, 1);
		CHECK(bar_ctr_unpack(root, sizeof(root), blobs, cache, manifest(11), &l, 1, why,
		                     sizeof(why)) == 0);
		snprintf(in, sizeof(in), "%s/ctr-test-abs", root);
		CHECK(access(in, F_OK) == 0);
		CHECK(access("/ctr-test-abs", F_OK) != 0);
		/* out of the cache again (test_gc counts what is there) */
		if (strrchr(root, '/'))
			*strrchr(root, '/') = '\0'; /* <cache>/<id> */
		snprintf(in, sizeof(in), "rm -rf '%s'", root);
		CHECK(system(in) == 0);
	}
	/* a tar that stops right after its last entry's data (umoci writes
	 * such layers; Go's reader and GNU tar take them) */
	tw_entry(&t, '0', "short", 0644, "abc", NULL);
	t.len -= TAR_BLOCK_T - 3; /* no padding, no end blocks */
	{
		bar_ctr_layer l;
		char root[1024], why[512] = "", in[1100];
		layer_of(&l, &t, 1);
		CHECK(bar_ctr_unpack(root, sizeof(root), blobs, cache, manifest(31), &l, 1, why,
		                     sizeof(why)) == 0);
		snprintf(in, sizeof(in), "%s/short", root);
		CHECK(access(in, F_OK) == 0);
		if (strrchr(root, '/'))
			*strrchr(root, '/') = '\0';
		snprintf(in, sizeof(in), "rm -rf '%s'", root);
		CHECK(system(in) == 0);
	}
	tw_entry(&t, '0', "/../evil-abs", 0644, "evil", NULL);
	tw_end(&t);
	refused(27, &t, 1, 0, "outside the rootfs");

	tw_entry(&t, '0', "f", 0644, "f", NULL);
	tw_entry(&t, '1', "lnk", 0644, NULL, "../../../etc/passwd");
	tw_end(&t);
	refused(12, &t, 0, 0, "hard link");

	tw_entry(&t, '0', "f", 0644, "data", NULL);
	tw_end(&t);
	refused(13, &t, 0, 1, "checksum mismatch");

	tw_entry(&t, '0', "f", 0644, "data", NULL);
	tw_entry(&t, '0', "g", 0644, "more data", NULL);
	tw_end(&t);
	refused(14, &t, 1, 1, "checksum mismatch");

	for (int i = 0; i < 40; i++) {
		char name[32], data[600];
		snprintf(name, sizeof(name), "file%d", i);
		memset(data, 'a' + i % 26, sizeof(data) - 1);
		data[sizeof(data) - 1] = '\0';
		data[i] = 'Z';
		tw_entry(&t, '0', name, 0644, data, NULL);
	}
	tw_end(&t);
	refused(15, &t, 1, 2, "truncated");

	/* ".wh..." would be the rootfs's parent, ".wh.." the rootfs */
	tw_entry(&t, '0', "keep", 0644, "k", NULL);
	tw_entry(&t, '0', ".wh...", 0644, NULL, NULL);
	tw_end(&t);
	refused(19, &t, 0, 0, "names no entry");
	tw_entry(&t, '0', "d/.wh..", 0644, NULL, NULL);
	tw_end(&t);
	refused(20, &t, 0, 0, "names no entry");

	tw_put(&t, "this is not a tar at all, not even close", 41);
	refused(16, &t, 0, 0, "not a tar");

	/* a plain tar declared gzip */
	tw_entry(&t, '0', "f", 0644, "data", NULL);
	tw_end(&t);
	{
		bar_ctr_layer l;
		char root[1024], why[512] = "";
		blob_put(&l, t.p, t.len, 1, 0);
		free(t.p), t.p = NULL, t.len = 0;
		CHECK(bar_ctr_unpack(root, sizeof(root), blobs, cache, manifest(17), &l, 1, why,
		                     sizeof(why)) == -1);
		CHECK(strstr(why, "not gzip") != NULL);
	}
	/* a missing blob and a bad digest */
	{
		bar_ctr_layer l = { .digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000" };
		char root[1024], why[512] = "";
		CHECK(bar_ctr_unpack(root, sizeof(root), blobs, cache, manifest(18), &l, 1, why,
		                     sizeof(why)) == -1);
		CHECK(strstr(why, "No such file") != NULL);
		snprintf(l.digest, sizeof(l.digest), "md5:abc");
		CHECK(bar_ctr_unpack(root, sizeof(root), blobs, cache, manifest(18), &l, 1, why,
		                     sizeof(why)) == -1);
		CHECK(strstr(why, "not sha256") != NULL);
	}
}

/* The streaming SHA-256 against FIPS 180-4's examples and the one-shot
 * form, fed in pieces of every size around a block. */
static void test_sha256(void)
{
	static const char *abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	unsigned char data[1000], one[BAR_SHA256_LEN], two[BAR_SHA256_LEN];
	char hex[65];
	bar_sha256_ctx c;

	hex_of(hex, (const unsigned char *)"abc", 3);
	CHECK(!strcmp(hex, abc));
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7 + 3);
	bar_sha256_digest(one, data, sizeof(data));
	for (size_t piece = 1; piece <= 130; piece++) {
		bar_sha256_init(&c);
		for (size_t off = 0; off < sizeof(data); off += piece)
			bar_sha256_update(&c, data + off,
			                  off + piece > sizeof(data) ? sizeof(data) - off : piece);
		bar_sha256_final(&c, two);
		CHECK(!memcmp(one, two, sizeof(one)));
	}
}

static void test_gc(void)
{
	tarw t = { 0 };
	bar_ctr_layer l;
	char r2[1024], r3[1024], why[512];
	const char *keep[1];

	tw_entry(&t, '0', "f", 0644, "2", NULL);
	tw_end(&t);
	layer_of(&l, &t, 0);
	CHECK(bar_ctr_unpack(r2, sizeof(r2), blobs, cache, manifest(2), &l, 1, why,
	                     sizeof(why)) == 0);
	CHECK(bar_ctr_unpack(r3, sizeof(r3), blobs, cache, manifest(3), &l, 1, why,
	                     sizeof(why)) == 0);
	CHECK(cache_entries() == 3);
	keep[0] = r2; /* a rootfs path */
	CHECK(bar_ctr_gc(cache, keep, 1) == 2);
	CHECK(access(r2, F_OK) == 0 && access(r3, F_OK) != 0);
	keep[0] = manifest(2); /* a digest */
	CHECK(bar_ctr_gc(cache, keep, 1) == 0);
	CHECK(bar_ctr_gc(cache, NULL, 0) == 1);
	CHECK(cache_entries() == 0);
}

static void remove_tmp(void)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmp);
}

int main(void)
{
	char cmd[600];

	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	atexit(remove_tmp); /* also when a check aborts part way */
	snprintf(blobs, sizeof(blobs), "%s/blobs", tmp);
	snprintf(cache, sizeof(cache), "%s/rootfs", tmp);
	snprintf(cmd, sizeof(cmd), "%s/sha256", blobs);
	mkdir(blobs, 0700);
	mkdir(cmd, 0700);
	test_sha256();
	test_tree();
	test_refusals();
	test_gc();
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
