/*
 * overlay_driver.c - a small program for tests/overlay_check.py, which
 * drives the overlay network (docs/overlay.md) on real namespaces without
 * the planner: the host side (keys, overlay files: planner/overlay.c) and
 * the agent side (apply, down, status: runtime/agent/overlay.c).
 *
 *   overlay_driver -keypair PRIVFILE          write a private key (0600), print its public key
 *   overlay_driver -pubkey PRIVFILE           print the public key of a private key file
 *   overlay_driver -addr CIDR INDEX           print VM INDEX's overlay address
 *   overlay_driver -config OUT VM PRIVFILE CIDR INDEX PORT [PEER...]
 *        PEER is name|pubkey|overlay_ip|endpoint|private_ip|same_net (1/0)
 *   overlay_driver -apply FILE RUNDIR
 *   overlay_driver -down FILE RUNDIR
 *   overlay_driver -status IFNAME             print the status JSON
 * Exits 0 on success, 1 with a message on stderr otherwise.
 */
#include "error.h"
#include "overlay.h"
#include "planner_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_secret(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	size_t n = strlen(text);

	if (fd < 0 || write(fd, text, n) != (ssize_t)n) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return close(fd);
}

static int read_key(char out[45], const char *path)
{
	FILE *f = fopen(path, "r");
	char line[128];
	int rc = -1;

	if (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (strlen(line) == 44) {
			memcpy(out, line, 45);
			rc = 0;
		}
	}
	if (f)
		fclose(f);
	return rc;
}

static int cmd_config(int argc, char **argv)
{
	bar_overlay_peer peers[64];
	char priv[45], ip[16], *text;
	size_t n = 0;
	int rc;

	if (argc < 8 || read_key(priv, argv[4]) < 0 ||
	    bar_overlay_addr(ip, argv[5], (size_t)atoi(argv[6])) < 0)
		return fprintf(stderr, "overlay_driver: bad -config arguments: %s\n",
		               bar_error_last()), 1;
	for (int i = 8; i < argc && n < 64; i++, n++) {
		char *f[6], *save = NULL, *s = argv[i];
		int k = 0;

		for (char *t = strtok_r(s, "|", &save); t && k < 6; t = strtok_r(NULL, "|", &save))
			f[k++] = t;
		if (k != 6)
			return fprintf(stderr, "overlay_driver: bad peer \"%s\"\n", argv[i]), 1;
		peers[n] = (bar_overlay_peer){ .name = f[0], .pubkey = f[1], .overlay_ip = f[2],
		                               .endpoint = f[3], .private_ip = f[4],
		                               .same_net = atoi(f[5]) };
	}
	text = bar_overlay_config(argv[3], priv, ip, bar_overlay_prefix(argv[5]), atoi(argv[7]),
	                          peers, n);
	if (!text)
		return fprintf(stderr, "overlay_driver: %s\n", bar_error_last()), 1;
	rc = write_secret(argv[2], text);
	bar_overlay_config_free(text);
	if (rc < 0)
		return fprintf(stderr, "overlay_driver: cannot write %s\n", argv[2]), 1;
	return 0;
}

int main(int argc, char **argv)
{
	char why[512] = "", priv[45], pub[45];
	const char *mode = argc > 1 ? argv[1] : "";

	if (strcmp(mode, "-keypair") == 0 && argc == 3) {
		char line[64];

		if (bar_overlay_keypair(priv, pub) < 0)
			return fprintf(stderr, "overlay_driver: %s\n", bar_error_last()), 1;
		snprintf(line, sizeof(line), "%s\n", priv);
		if (write_secret(argv[2], line) < 0)
			return fprintf(stderr, "overlay_driver: cannot write %s\n", argv[2]), 1;
		printf("%s\n", pub);
		return 0;
	}
	if (strcmp(mode, "-pubkey") == 0 && argc == 3) {
		if (read_key(priv, argv[2]) < 0 || bar_overlay_pubkey(pub, priv) < 0)
			return fprintf(stderr, "overlay_driver: %s\n", bar_error_last()), 1;
		printf("%s\n", pub);
		return 0;
	}
	if (strcmp(mode, "-addr") == 0 && argc == 4) {
		char ip[16];

		if (bar_overlay_addr(ip, argv[2], (size_t)atoi(argv[3])) < 0)
			return fprintf(stderr, "overlay_driver: %s\n", bar_error_last()), 1;
		printf("%s\n", ip);
		return 0;
	}
	if (strcmp(mode, "-config") == 0)
		return cmd_config(argc, argv);
	if ((strcmp(mode, "-apply") == 0 || strcmp(mode, "-down") == 0) && argc == 4) {
		int rc = mode[1] == 'a' ? bar_overlay_apply(argv[2], argv[3], why, sizeof(why))
		                        : bar_overlay_down(argv[2], argv[3], why, sizeof(why));

		if (rc < 0)
			return fprintf(stderr, "overlay_driver %s: %s\n", mode, why), 1;
		return 0;
	}
	if (strcmp(mode, "-status") == 0 && argc == 3) {
		static char json[64 * 1024];

		if (bar_overlay_status(json, sizeof(json), argv[2]) < 0)
			return fprintf(stderr, "overlay_driver: no status of %s\n", argv[2]), 1;
		printf("%s\n", json);
		return 0;
	}
	fprintf(stderr, "usage: see tests/overlay_driver.c\n");
	return 2;
}
