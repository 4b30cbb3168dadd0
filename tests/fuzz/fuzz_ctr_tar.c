/*
 * fuzz_ctr_tar.c - the layer reader of barista-agent's image unpacker
 * (runtime/agent/image.c, bar_ctr_layer_apply) on arbitrary bytes: the first
 * byte picks plain tar or gzip, the rest is the blob, fed through a memfd
 * onto a scratch rootfs.  It applies the blob or refuses it with a "layer
 * ..." message, and whatever the entries say, nothing appears beside the
 * rootfs (the sibling dir stays empty, the parent holds only the two).
 */
#include "ctr_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static char top[64];
static int topfd = -1;

/* Entries of the dir fd other than . and ..; 0 if it cannot be read. */
static int count_entries(int fd, const char *name)
{
	int sub = openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC), n = 0;
	DIR *d = sub >= 0 ? fdopendir(sub) : NULL;
	struct dirent *de;

	if (!d)
		abort(); /* the scratch dirs must always be there */
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void remove_top(void)
{
	if (topfd >= 0) {
		bar_ctr_rmtree_at(topfd, "root");
		bar_ctr_rmtree_at(topfd, "outside");
		close(topfd);
		rmdir(top);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[1024] = "";
	int memfd, rootfd, rc;

	if (size < 1)
		return 0;
	if (topfd < 0) {
		snprintf(top, sizeof(top), "/tmp/fuzz_ctr_tar.%ld", (long)getpid());
		mkdir(top, 0700);
		topfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		mkdirat(topfd, "root", 0700);
		mkdirat(topfd, "outside", 0700);
		atexit(remove_top);
	}
	memfd = memfd_create("blob", MFD_CLOEXEC);
	if (memfd < 0 || write(memfd, data + 1, size - 1) != (ssize_t)(size - 1))
		abort();
	lseek(memfd, 0, SEEK_SET);
	rootfd = openat(topfd, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc = bar_ctr_layer_apply(rootfd, memfd, data[0] & 1, NULL, "fuzz", why, sizeof(why));
	if (rc != 0 && strncmp(why, "layer fuzz: ", 12) != 0)
		abort();
	if (count_entries(topfd, ".") != 2 || count_entries(topfd, "outside") != 0)
		abort(); /* something escaped the rootfs */
	/* the next input starts from an empty rootfs */
	bar_ctr_rmtree_at(topfd, "root");
	mkdirat(topfd, "root", 0700);
	close(rootfd);
	close(memfd);
	return 0;
}
