/* main.c — rootwalkd: arguments, configuration, privileges, signals and
 * the event loop.  Everything that resolves lives in the modules; this
 * file only wires them together in the order their lifetimes need:
 * config -> hints/cache/infra/rrl (shared) -> workers (each: transport ->
 * upstream -> request -> server) -> control socket -> bind every worker's
 * listeners -> drop privileges -> start the worker threads -> run the main
 * loop -> stop and join the workers -> tear down in reverse.
 *
 * Workers (worker.h): `workers: N`, 0 meaning one per CPU; raw mode runs
 * exactly one.  Worker 0 runs on the main loop with the control socket and
 * the signal handlers; the others on threads of their own.  A stop (signal
 * or "rootwalkctl stop") ends the main loop; the threaded workers are then
 * stopped and joined before anything they share is freed.
 *
 * The transport (transport.h) is kernel sockets, or in raw mode the
 * userspace stack on a TAP device (opened, or created, before privileges
 * are dropped).  Server and upstream only borrow it, so it is closed after
 * both have closed their sockets and freed after the loop has let every
 * handle go. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "build_config.h"
#include "cache.h"
#include "config.h"
#include "control.h"
#include "hints.h"
#include "infra.h"
#include "iter.h"
#include "log.h"
#include "request.h"
#include "rrl.h"
#include "server.h"
#include "transport.h"
#include "upstream.h"
#include "worker.h"

#define INFRA_ENTRY_TTL_MS (15u * 60u * 1000u)

struct daemon {
	struct config cfg;
	uv_loop_t *loop;
	struct hints *hints;
	struct cache *cache;
	struct infra *infra;
	struct rrl *rrl; /* response rate limiting, shared by the servers; NULL: off */
	struct worker **workers;
	unsigned n_workers;         /* built (maybe partly, after a failure) */
	struct control *ctl;
	uint64_t start_ms;
	struct worker_env wenv;
	uv_signal_t sig_int, sig_term, sig_hup;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rootwalkd [-c FILE] [-t] [-d] [-v LEVEL]\n"
		"A recursive DNS resolver that walks the hierarchy from the root.\n\n"
		"  -c, --config FILE   configuration file (default %s)\n"
		"  -t, --check-config  check the configuration and exit\n"
		"  -d, --foreground    stay in the foreground, log to stderr\n"
		"  -v, --verbosity N   override the configured verbosity\n"
		"  -h, --help          show this help\n"
		"  -V, --version       show the version\n",
		ROOTWALK_DEFAULT_CONFIG);
}

/* True when some interface has a global IPv6 address, i.e. v6 servers
 * can plausibly be reached; otherwise asking them only costs timeouts. */
static bool host_has_global_ipv6(void)
{
	struct ifaddrs *ifs, *i;
	bool found = false;

	if (getifaddrs(&ifs) != 0)
		return false;
	for (i = ifs; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET6)
			continue;
		const struct in6_addr *a = &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
		found = !IN6_IS_ADDR_LOOPBACK(a) && !IN6_IS_ADDR_LINKLOCAL(a) &&
			(a->s6_addr[0] & 0xe0) == 0x20; /* 2000::/3 */
	}
	freeifaddrs(ifs);
	return found;
}

/* Switch to the configured user after the listeners are bound. */
static int drop_privileges(const char *username)
{
	struct passwd *pw;

	if (!username || !*username || geteuid() != 0)
		return 0;
	pw = getpwnam(username);
	if (!pw) {
		log_err("cannot drop privileges: no user '%s'", username);
		return -1;
	}
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		log_err("cannot drop privileges to '%s': %s", username, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		log_err("privilege drop to '%s' did not stick", username);
		return -1;
	}
	log_info("running as user %s (uid %u)", username, (unsigned)pw->pw_uid);
	return 0;
}

static int write_pidfile(const char *path)
{
	FILE *f;

	if (!path || !*path)
		return 0;
	f = fopen(path, "w");
	if (!f) {
		log_err("cannot write pidfile %s: %s", path, strerror(errno));
		return -1;
	}
	fprintf(f, "%d\n", (int)getpid());
	return fclose(f) == 0 ? 0 : -1;
}

/* Classic double fork so the daemon is no session leader. */
static int daemonize(void)
{
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (chdir("/") != 0)
		return -1;
	int fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	return 0;
}

static void on_stop_signal(uv_signal_t *s, int signum)
{
	struct daemon *d = s->data;

	log_info("signal %d: shutting down", signum);
	uv_stop(d->loop);
}

/* control "stop": the same as SIGTERM. */
static void on_control_stop(void *ud)
{
	struct daemon *d = ud;

	log_info("control: shutting down");
	uv_stop(d->loop);
}

static void cache_policy_from(const struct config *cfg, struct cache_policy *p)
{
	p->min_ttl = cfg->cache_min_ttl;
	p->max_ttl = cfg->cache_max_ttl;
	p->max_negative_ttl = cfg->cache_max_negative_ttl;
	p->serve_expired = cfg->serve_expired;
	p->serve_expired_window = cfg->serve_expired_window;
}

/* What every worker is built from: the shared cache, infra, hints and
 * RRL table, the iterator's limits and the upstream options. */
static void worker_env_from(struct daemon *d)
{
	const struct config *cfg = &d->cfg;
	struct iter_env *env = &d->wenv.iter;

	d->wenv.cfg = cfg;
	d->wenv.rrl = d->rrl;
	d->wenv.up.edns_buffer_size = cfg->edns_buffer_size;
	d->wenv.up.tcp_timeout_ms = cfg->outgoing_tcp_timeout_ms;
	d->wenv.up.use_caps_for_id = cfg->use_caps_for_id;
	env->cache = d->cache;
	env->infra = d->infra;
	env->hints = d->hints;
	env->lim.max_referrals = cfg->max_referrals;
	env->lim.max_cname_chain = cfg->max_cname_chain;
	env->lim.max_glueless_per_referral = cfg->max_glueless_per_referral;
	env->lim.max_upstream_queries = cfg->max_upstream_queries;
	env->lim.max_subquery_depth = cfg->max_subquery_depth;
	env->lim.max_target_nx = cfg->max_target_nx;
	env->do_ip4 = cfg->do_ip4;
	/* Raw mode is IPv4 only: the stack has one IPv4 address. */
	env->do_ip6 = cfg->mode != CFG_MODE_RAW && cfg->do_ip6 && host_has_global_ipv6();
}

/* control "reload": read the file again and apply what can change while
 * running (log verbosity, cache policy and size).  Listeners, the control
 * socket, mode, user and workers need a restart.  What it changes is
 * shared by every worker and safe to change under them: the verbosity is
 * atomic, the cache publishes a new policy and resizes shard by shard. */
static int on_control_reload(void *ud, char *err, size_t errlen)
{
	struct daemon *d = ud;
	struct cache_policy policy;
	struct config fresh;

	config_init(&fresh);
	if (config_load(&fresh, d->cfg.file, err, errlen) != 0) {
		config_free(&fresh);
		return -1;
	}
	log_set_verbosity(fresh.verbosity);
	cache_policy_from(&fresh, &policy);
	cache_set_policy(d->cache, &policy);
	cache_set_max_bytes(d->cache, fresh.cache_size);
	d->cfg.verbosity = fresh.verbosity;
	d->cfg.cache_size = fresh.cache_size;
	d->cfg.cache_min_ttl = fresh.cache_min_ttl;
	d->cfg.cache_max_ttl = fresh.cache_max_ttl;
	d->cfg.cache_max_negative_ttl = fresh.cache_max_negative_ttl;
	d->cfg.serve_expired = fresh.serve_expired;
	d->cfg.serve_expired_window = fresh.serve_expired_window;
	config_free(&fresh);
	log_info("reloaded %s (verbosity and cache settings)", d->cfg.file);
	return 0;
}

/* SIGHUP: the same as "rootwalkctl reload". */
static void on_reload_signal(uv_signal_t *s, int signum)
{
	char err[CONFIG_ERR_MAX];

	if (on_control_reload(s->data, err, sizeof(err)) != 0)
		log_err("reload on SIGHUP failed, keeping the running configuration: %s", err);
}

static int control_setup(struct daemon *d)
{
	char err[CONFIG_ERR_MAX];
	struct control_env env = {
		.cfg = &d->cfg, .cache = d->cache, .infra = d->infra,
		.net = worker_net(d->workers[0]),
		.workers = d->workers, .n_workers = d->n_workers,
		.start_ms = d->start_ms,
		.reload = on_control_reload, .stop = on_control_stop, .ud = d,
	};

	d->ctl = control_new(d->loop, &env, err, sizeof(err));
	if (!d->ctl) {
		log_err("control socket: %s", err);
		return -1;
	}
	return 0;
}

/* Build every worker: worker 0 on the main loop, the others on loops of
 * their own (not running yet).  0, or -1 logged. */
static int workers_setup(struct daemon *d)
{
	unsigned n = worker_count(&d->cfg);

	d->workers = calloc(n, sizeof(*d->workers));
	if (!d->workers) {
		log_err("out of memory setting up %u workers", n);
		return -1;
	}
	worker_env_from(d);
	for (unsigned i = 0; i < n; i++) {
		int rc = worker_new(&d->wenv, i, i ? NULL : d->loop, &d->workers[i]);

		if (d->workers[i])
			d->n_workers = i + 1;
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* Every worker binds the same addresses (SO_REUSEPORT). */
static int workers_listen(struct daemon *d)
{
	for (unsigned i = 0; i < d->n_workers; i++)
		if (worker_listen(d->workers[i]) != 0)
			return -1;
	return 0;
}

static int workers_start(struct daemon *d)
{
	for (unsigned i = 0; i < d->n_workers; i++)
		if (worker_start(d->workers[i]) != 0)
			return -1;
	return 0;
}

/* Build every component.  Returns 0, or -1 after logging why. */
static int daemon_setup(struct daemon *d)
{
	char err[CONFIG_ERR_MAX];
	struct cache_policy policy;

	d->hints = hints_load(d->cfg.root_hints, err, sizeof(err));
	if (!d->hints) {
		log_err("root hints: %s", err);
		return -1;
	}
	cache_policy_from(&d->cfg, &policy);
	d->cache = cache_new(d->cfg.cache_size, &policy);
	d->infra = infra_new(d->cfg.infra_cache_size, INFRA_ENTRY_TTL_MS);
	d->loop = uv_default_loop();
	d->start_ms = uv_now(d->loop);
	if (!d->cache || !d->infra) {
		log_err("out of memory setting up the resolver");
		return -1;
	}
	if (rrl_new_from_config(&d->cfg, &d->rrl) != 0) {
		log_err("out of memory for the response rate limiting table");
		return -1;
	}
	if (workers_setup(d) != 0)
		return -1;
	/* the control socket first: "already running" beats EADDRINUSE */
	if (control_setup(d) != 0 || workers_listen(d) != 0)
		return -1;
	uv_signal_init(d->loop, &d->sig_int);
	uv_signal_init(d->loop, &d->sig_term);
	d->sig_int.data = d->sig_term.data = d;
	uv_signal_start(&d->sig_int, on_stop_signal, SIGINT);
	uv_signal_start(&d->sig_term, on_stop_signal, SIGTERM);
	uv_signal_init(d->loop, &d->sig_hup);
	d->sig_hup.data = d;
	uv_signal_start(&d->sig_hup, on_reload_signal, SIGHUP);
	return 0;
}

static void close_walk(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* Reverse of daemon_setup.  Handles close through the loop, so the loop
 * runs once more before the memory behind them goes.  The transport is
 * closed after server and upstream have closed every socket of theirs,
 * and before uv_walk: a raw transport's TAP and timer handles close
 * through it, which frees the stack. */
static void daemon_teardown(struct daemon *d)
{
	/* threaded workers first: they use cache, infra, hints and rrl until
	 * joined */
	for (unsigned i = 1; i < d->n_workers; i++)
		worker_stop(d->workers[i]);
	if (d->ctl)
		control_close(d->ctl); /* before uv_walk: its handles close through it */
	if (d->n_workers)
		worker_close(d->workers[0]);
	if (d->loop) {
		uv_walk(d->loop, close_walk, NULL);
		uv_run(d->loop, UV_RUN_DEFAULT);
	}
	if (d->ctl)
		control_free(d->ctl);
	for (unsigned i = 0; i < d->n_workers; i++)
		worker_free(d->workers[i]);
	free(d->workers);
	rrl_free(d->rrl);
	infra_free(d->infra);
	cache_free(d->cache);
	hints_free(d->hints);
	if (d->loop)
		uv_loop_close(d->loop);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 't' },
		{ "foreground", no_argument, NULL, 'd' },
		{ "verbosity", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	bool check_only = false, foreground = false;
	int verbosity = -1, c, rc = 1;
	char err[CONFIG_ERR_MAX];
	struct daemon d;

	memset(&d, 0, sizeof(d));
	while ((c = getopt_long(argc, argv, "c:tdv:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 't': check_only = true; break;
		case 'd': foreground = true; break;
		case 'v': verbosity = atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("rootwalkd %s\n", ROOTWALK_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "rootwalkd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	config_init(&d.cfg);
	if (!path)
		path = ROOTWALK_DEFAULT_CONFIG;
	if (config_load(&d.cfg, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "rootwalkd: %s\n", err);
		config_free(&d.cfg);
		return 1;
	}
	if (check_only) {
		printf("rootwalkd: %s: configuration OK\n", path);
		config_free(&d.cfg);
		return 0;
	}
	if (verbosity >= 0)
		d.cfg.verbosity = verbosity;
	log_init(d.cfg.verbosity, !foreground, "rootwalkd");
	signal(SIGPIPE, SIG_IGN);
	if (!foreground && daemonize() != 0) {
		log_err("cannot daemonize: %s", strerror(errno));
		goto out;
	}
	if (daemon_setup(&d) != 0)
		goto out;
	/* every listener is bound by now; the threads start unprivileged */
	if (write_pidfile(d.cfg.pidfile) != 0 || drop_privileges(d.cfg.username) != 0 ||
	    workers_start(&d) != 0)
		goto out;
	log_info("rootwalkd %s started (config %s, %u worker%s)", ROOTWALK_VERSION, path,
		 d.n_workers, d.n_workers == 1 ? "" : "s");
	uv_run(d.loop, UV_RUN_DEFAULT);
	rc = 0;
out:
	daemon_teardown(&d);
	if (d.cfg.pidfile && rc == 0)
		unlink(d.cfg.pidfile);
	config_free(&d.cfg);
	log_close();
	return rc;
}
