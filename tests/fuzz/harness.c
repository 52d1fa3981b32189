#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <json-c/json.h>

#include "common/config.h"
#include "common/log.h"
#include "common/policy.h"
#include "tests/fuzz/harness.h"
#include "tests/unit/fixture.h"
#include "watcherd/daemon.h"

void
fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz check failed: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static int
base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

unsigned char *
fuzz_base64_decode(const char *s, size_t len, size_t *out_len)
{
	unsigned char *out, *o;
	size_t i, pad = 0;
	int v[4], j;

	if (len % 4 != 0)
		return NULL;
	if (len > 0 && s[len - 1] == '=')
		pad = len > 1 && s[len - 2] == '=' ? 2 : 1;
	if ((o = out = malloc(len / 4 * 3 + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i += 4) {
		for (j = 0; j < 4; j++) {
			v[j] = i + (size_t)j >= len - pad ? 0 :
			    base64_value((unsigned char)s[i + j]);
			if (v[j] < 0)
				goto bad;
		}
		*o++ = (unsigned char)(v[0] << 2 | v[1] >> 4);
		*o++ = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
		*o++ = (unsigned char)((v[2] & 3) << 6 | v[3]);
	}
	/* The bits the padding leaves unused must be zero. */
	if ((pad == 1 && (v[2] & 3) != 0) || (pad == 2 && (v[1] & 15) != 0))
		goto bad;
	*out_len = (size_t)(o - out) - pad;
	return out;
bad:
	free(out);
	return NULL;
}

struct json_object *
fuzz_json_parse(const char *s, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(32);
	struct json_object *o;
	size_t end;
	char *buf;

	/* A blank after the bytes ends a number at their very end, which
	   json-c would otherwise wait on. */
	if (tok == NULL || (buf = malloc(len + 1)) == NULL)
		fuzz_fail("out of memory");
	memcpy(buf, s, len);
	buf[len] = ' ';
	o = json_tokener_parse_ex(tok, buf, (int)len + 1);
	end = json_tokener_get_parse_end(tok);
	if (o != NULL && end != len && end != len + 1) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	free(buf);
	return o;
}

int64_t
fuzz_json_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	FUZZ_CHECK(json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_int), "no integer %s in %s", key,
	    json_object_to_json_string(o));
	return json_object_get_int64(v);
}

const char *
fuzz_json_string(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int
fuzz_contains(const void *big, size_t len, const char *little)
{
	return memmem(big, len, little, strlen(little)) != NULL;
}

/* The fixture tree. */

char *const fuzz_allow[] = {
	"context.py", "*.log", "process_logs/*.out", "*/*.log",
};
const size_t fuzz_n_allow = sizeof(fuzz_allow) / sizeof(fuzz_allow[0]);
const char *fuzz_access = "open";

static struct fuzz_tree tree;
static int tree_built;

static const char context_py[] =
    "# DAMNIT context file \xe2\x80\x94 caf\xc3\xa9 \xf0\x9f\x94\xac\n"
    "from damnit_ctx import Variable\n\n"
    "@Variable(title=\"Pulse \\\"energy\\\"\\tmean\")\n"
    "def energy(run):\n\treturn run['\\x00'] / 2  # \x7f\x1b[0m\r\n";
static const char run_log[] =
    "2024-01-01 12:00:00 INFO start\n2024-01-01 12:00:01 ERROR boom\n"
    "partial line \xc3";

static void
put(const char *rel, const void *data, size_t len)
{
	char path[1024];

	fixture_path(path, sizeof(path), "%s/%s", tree.root, rel);
	if (fixture_write(path, data, len) == -1)
		fuzz_fail("cannot write %s: %s", path, strerror(errno));
}

static void
link_to(const char *target, const char *rel)
{
	char path[1024];

	fixture_path(path, sizeof(path), "%s/%s", tree.root, rel);
	if (symlink(target, path) == -1)
		fuzz_fail("cannot link %s: %s", path, strerror(errno));
}

static void
dirs(const char *rel)
{
	char path[1024];

	fixture_path(path, sizeof(path), "%s/%s", tree.root, rel);
	if (fixture_mkdirs(path) == -1)
		fuzz_fail("cannot create %s: %s", path, strerror(errno));
}

static void
remove_tree(void)
{
	if (tree_built)
		fixture_rmtree(tree.root);
}

#define F1 "data/XFEL/202401/p001111/usr/Shared/amore"
#define F2 "data/XFEL/202401/p002222/usr/Shared/amore-online"

const struct fuzz_tree *
fuzz_tree(void)
{
	static const char *const secrets[] = { "secret.log", "outside/secret.log" };
	char path[1024], *secret, *big, path2[1024], proc[1200];
	unsigned char binary[512];
	struct stat st;
	size_t i;

	if (tree_built)
		return &tree;
	fixture_tmpdir(tree.root, sizeof(tree.root));
	tree_built = 1;
	atexit(remove_tree);
	snprintf(tree.data_root, sizeof(tree.data_root), "%s/data", tree.root);
	snprintf(tree.socket, sizeof(tree.socket), "%s/watcherd.sock", tree.root);
	dirs(F1 "/process_logs/deep");
	dirs(F1 "/sub");
	dirs(F1 "/dir.log");
	dirs(F2);
	dirs("outside");

	if ((secret = malloc(FUZZ_SECRET_SIZE)) == NULL ||
	    (big = malloc(FUZZ_MAX_FILE_SIZE + 4096)) == NULL)
		fuzz_fail("out of memory");
	memset(secret, 'S', FUZZ_SECRET_SIZE);
	for (i = 0; i < 2; i++) {
		put(secrets[i], secret, FUZZ_SECRET_SIZE);
		fixture_path(path, sizeof(path), "%s/%s", tree.root, secrets[i]);
		if (stat(path, &st) == -1)
			fuzz_fail("stat %s: %s", path, strerror(errno));
		tree.secret_dev[i] = st.st_dev;
		tree.secret_ino[i] = st.st_ino;
	}
	free(secret);
	for (i = 0; i < FUZZ_MAX_FILE_SIZE + 4096; i++)
		big[i] = "0123456789abcdef\n"[i % 17];
	for (i = 0; i < sizeof(binary); i++)
		binary[i] = (unsigned char)(i * 7 + 0x80);

	put(F1 "/context.py", context_py, sizeof(context_py) - 1);
	put(F1 "/run.log", run_log, sizeof(run_log) - 1);
	put(F1 "/binary.log", binary, sizeof(binary));
	put(F1 "/empty.log", "", 0);
	put(F1 "/big.log", big, FUZZ_MAX_FILE_SIZE + 4096);
	put(F1 "/caf\xc3\xa9 \"q\" \\b.log", "quoted name\n", 12);
	put(F1 "/sub/inner.log", "inner\n", 6);
	put(F1 "/process_logs/r0001-p1111.out", "processing run 1\n", 17);
	put(F1 "/process_logs/deep/x.out", "deeper\n", 7);
	put(F2 "/context.py", "# proposal 2222\n", 16);
	free(big);

	/* Links that stay inside. */
	link_to("run.log", F1 "/link.log");
	link_to("../run.log", F1 "/sub/up.log");
	link_to("sub", F1 "/subdir");
	link_to("../context.py", F1 "/process_logs/ctx.out");
	fixture_path(path, sizeof(path), "%s/" F1 "/run.log", tree.root);
	fixture_path(path2, sizeof(path2), "%s/" F1 "/hard.log",
	    tree.root);
	if (link(path, path2) == -1)
		fuzz_fail("cannot link %s: %s", path2, strerror(errno));
	/* Links that escape. */
	fixture_path(path2, sizeof(path2), "%s/secret.log", tree.root);
	link_to(path2, F1 "/abs.log");
	link_to("../../../../../../../secret.log", F1 "/rel.log");
	link_to("../../../../../../../../secret.log", F1 "/sub/rel.log");
	link_to("../../../../../../../../secret.log", F1 "/process_logs/esc.out");
	link_to("../../../../../../../outside", F1 "/out");
	link_to("../../../../../../../../outside", F1 "/sub/out");
	link_to("../../../" "p002222/usr/Shared/amore-online/context.py",
	    F1 "/other.log");
	snprintf(proc, sizeof(proc), "/proc/self/root%s", path2);
	link_to(proc, F1 "/proc.log");
	link_to("/proc/self/cwd", F1 "/cwd");
	link_to("loop1.log", F1 "/loop2.log");
	link_to("loop2.log", F1 "/loop1.log");
	link_to("missing.log", F1 "/dangling.log");
	/* Files that are not regular. */
	fixture_path(path, sizeof(path), "%s/" F1 "/fifo.log", tree.root);
	if (mkfifo(path, 0644) == -1)
		fuzz_fail("mkfifo %s: %s", path, strerror(errno));
	fixture_path(path, sizeof(path), "%s/" F1 "/null.log", tree.root);
	(void)mknod(path, S_IFCHR | 0644, makedev(1, 3));	/* if allowed */

	for (i = 0; i < 2; i++) {
		fixture_path(path, sizeof(path), "%s/%s", tree.root, i ? F2 : F1);
		if (realpath(path, path2) == NULL ||
		    strlen(path2) >= sizeof(tree.folder[i]) ||
		    (tree.folder_fd[i] = open(path, O_PATH | O_DIRECTORY |
		    O_CLOEXEC)) == -1)
			fuzz_fail("cannot open %s: %s", path, strerror(errno));
		strcpy(tree.folder[i], path2);
	}
	return &tree;
}

int
fuzz_tree_folder(unsigned proposal)
{
	fuzz_tree();
	return proposal == 1111 ? tree.folder_fd[0] :
	    proposal == 2222 ? tree.folder_fd[1] : -1;
}

int
fuzz_tree_is_secret(const struct stat *st)
{
	size_t i;

	for (i = 0; i < 2; i++)
		if (st->st_dev == tree.secret_dev[i] &&
		    st->st_ino == tree.secret_ino[i])
			return 1;
	return 0;
}

char *
fuzz_tree_read(unsigned proposal, const char *name, size_t *len)
{
	int folder = fuzz_tree_folder(proposal), fd;
	struct stat st;
	char *buf;
	ssize_t n;

	if (folder == -1)
		return NULL;
	if ((fd = policy_open_beneath(folder, name, O_RDONLY | O_NONBLOCK)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	FUZZ_CHECK(!fuzz_tree_is_secret(&st), "%s opened the outside secret",
	    name);
	n = pread(fd, buf, (size_t)st.st_size + 1, 0);
	close(fd);
	FUZZ_CHECK(n == st.st_size, "fixture file %s changed", name);
	*len = (size_t)n;
	return buf;
}

/* The daemon. */

struct daemon *
fuzz_daemon(void)
{
	static struct daemon d = { .signal_fd = -1 };
	static int built;
	char err[1024];
	size_t i;

	if (built)
		return &d;
	fuzz_tree();
	/* Quiet: per-request lines would drown libFuzzer's. */
	log_init("watcherd", 0);
	config_defaults(&d.cfg);
	free(d.cfg.socket_path);
	d.cfg.socket_path = strdup(tree.socket);
	free(d.cfg.data_root);
	d.cfg.data_root = strdup(tree.data_root);
	snprintf(err, sizeof(err), "%d", FUZZ_MAX_FILE_SIZE);
	if (config_set(&d.cfg, "max-file-size", err, err, sizeof(err)) == -1 ||
	    config_set(&d.cfg, "cache-size", "1M", err, sizeof(err)) == -1 ||
	    config_set(&d.cfg, "access", fuzz_access, err, sizeof(err)) == -1)
		fuzz_fail("config: %s", err);
	for (i = 3; i < fuzz_n_allow; i++)
		if (config_set(&d.cfg, "allow", fuzz_allow[i], err,
		    sizeof(err)) == -1)
			fuzz_fail("config: %s", err);
	if (d.cfg.socket_path == NULL || d.cfg.data_root == NULL)
		fuzz_fail("out of memory");
	if (daemon_init(&d, err, sizeof(err)) == -1)
		fuzz_fail("watcherd: %s", err);
	built = 1;
	return &d;
}

static void *
daemon_thread(void *arg)
{
	struct daemon *d = arg;

	if (loop_run(d->loop) == -1)
		fuzz_fail("watcherd loop: %s", strerror(errno));
	return NULL;
}

void
fuzz_daemon_thread(void)
{
	static int started;
	pthread_t t;

	if (started)
		return;
	if (pthread_create(&t, NULL, daemon_thread, fuzz_daemon()) != 0)
		fuzz_fail("cannot start watcherd's thread");
	pthread_detach(t);
	started = 1;
}
