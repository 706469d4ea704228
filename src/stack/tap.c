/* tap.c — see tap.h. */
#include "tap.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* MTU and IFF_UP go through an ordinary socket's ioctls. */
static int tap_configure(const char *ifname, unsigned mtu)
{
	struct ifreq ifr;
	int sock, rc = 0;

	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	ifr.ifr_mtu = (int)mtu;
	if (ioctl(sock, SIOCSIFMTU, &ifr) < 0) {
		rc = -errno;
		log_err("tap %s: cannot set MTU %u: %s", ifname, mtu, strerror(errno));
		goto out;
	}
	if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) {
		rc = -errno;
		goto out;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) {
		rc = -errno;
		log_err("tap %s: cannot bring up: %s", ifname, strerror(errno));
	}
out:
	close(sock);
	return rc;
}

int tap_open(const char *ifname, unsigned mtu)
{
	struct ifreq ifr;
	int fd, rc;

	if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ)
		return -EINVAL;
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		log_err("tap %s: cannot open /dev/net/tun: %s", ifname, strerror(errno));
		return rc;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		rc = -errno;
		log_err("tap %s: TUNSETIFF: %s", ifname, strerror(errno));
		close(fd);
		return rc;
	}
	rc = tap_configure(ifname, mtu);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	log_info("tap %s: up, mtu %u", ifname, mtu);
	return fd;
}
