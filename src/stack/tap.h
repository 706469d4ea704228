/* tap.h — the TAP device under raw mode (private).
 *
 * Opens /dev/net/tun as IFF_TAP | IFF_NO_PI: every read is one Ethernet
 * frame, every write sends one.  The interface is created if it does not
 * exist (or attached if it is a persistent one made by `ip tuntap add`),
 * brought up with the given MTU, and the fd is non-blocking.  The kernel's
 * own address on the link is the operator's business (`ip addr add`). */
#ifndef RW_STACK_TAP_H
#define RW_STACK_TAP_H

/* Returns the fd or -errno. */
int tap_open(const char *ifname, unsigned mtu);

#endif
