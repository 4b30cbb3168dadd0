/*
 * overlay.h - barista-agent's side of an MCI's overlay network
 * (docs/overlay.md): bring the VM's WireGuard interface, peers, address and
 * same-net routes to what the overlay file written by apply says, tear it
 * down, and report the peers' handshakes and traffic.
 *
 * The interface is kernel WireGuard when the module is there (configured
 * with `wg syncconf`, so only when wireguard-tools is installed too), else
 * Debian's userspace wireguard-go, configured through its cross-platform
 * UAPI socket (/var/run/wireguard/<if>.sock) with no `wg` binary.  Addresses
 * and routes go through iproute2's `ip`.  libc only, single-threaded, never
 * prints: errors come back in `why`.
 *
 * run_dir keeps what apply did (overlay-<if>.state: mode, pid, address,
 * routes) so a later apply removes what the file no longer asks for and
 * down removes everything; it also keeps wireguard-go's log
 * (overlay-<if>.log, truncated at each start).
 */
#ifndef BAR_RUNTIME_AGENT_OVERLAY_H
#define BAR_RUNTIME_AGENT_OVERLAY_H

#include <stddef.h>

#define BAR_OVERLAY_FILE_MAX (256 * 1024) /* bytes of one overlay file */
#define BAR_OVERLAY_PEERS_MAX 1024        /* peers in one file */

/* Bring the VM's overlay to what the file at path says.  Idempotent: call
 * it at agent start and on SIGHUP; peers, routes and an address no longer in
 * the file are removed, a running wireguard-go is kept (its pid is in the
 * state file; it is started with WG_PROCESS_FOREGROUND=1 in its own session
 * and is not the agent's to reap beyond an exit it notices).  Returns 0, or
 * -1 with the reason in why (never the private key). */
int bar_overlay_apply(const char *path, const char *run_dir, char *why, size_t wsize);

/* Parse an overlay file's text of len bytes (need not be NUL-terminated)
 * without applying it, as apply would.  Returns 0, or -1 with why (the
 * line number, never the key). */
int bar_overlay_check(const char *text, size_t len, char *why, size_t wsize);

/* Tear the overlay down: the same-net routes, the interface and the
 * wireguard-go process, and the state file.  The interface name comes from
 * the file at path (bar0 when it cannot be read).  Nothing there is fine.
 * Returns 0 or -1 with why. */
int bar_overlay_down(const char *path, const char *run_dir, char *why, size_t wsize);

/* The interface's peers as JSON into json[n]:
 *   {"interface":"bar0","listen_port":51820,"peers":[{"public_key":"<b64>",
 *    "endpoint":"ip:port","last_handshake":<unix s, 0 = never>,
 *    "rx_bytes":N,"tx_bytes":N}]}
 * read with the UAPI's get=1 (wireguard-go only).  Returns 0, -1 when the
 * interface's socket cannot be reached or answers garbage, -2 when json is
 * too small (nothing partial is left: json is "" then). */
int bar_overlay_status(char *json, size_t n, const char *ifname);

#endif
