/*
 * What the fuzz targets share: failing with a message, the independent
 * decoders their checks need (base64, an exact JSON parse), the fixture
 * tree of proposal folders with symlinks that stay inside and ones that
 * escape, and a real watcherd on that tree.
 */
#ifndef FUZZ_HARNESS_H
#define FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

struct daemon;
struct json_object;

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints "fuzz check failed: <message>" and aborts, so that libFuzzer
   keeps the input as a crash. */
void	fuzz_fail(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
#define FUZZ_CHECK(cond, ...) \
	do { if (!(cond)) fuzz_fail(__VA_ARGS__); } while (0)

/* Decodes padded RFC 4648 base64 (the canonical form only: no stray
   bits, no whitespace). Returns malloc()ed bytes (caller frees) with
   *out_len, or NULL when s is not such base64. */
unsigned char *fuzz_base64_decode(const char *s, size_t len, size_t *out_len);

/* Parses exactly len bytes as one JSON value (depth 32, as watcherd);
   NULL when they are not one. The caller puts the object. */
struct json_object *fuzz_json_parse(const char *s, size_t len);

/* The integer member key of o; fails the check when there is none. */
int64_t	fuzz_json_int(struct json_object *o, const char *key);
/* The string member key of o, or NULL (absent, not a string). */
const char *fuzz_json_string(struct json_object *o, const char *key);

/* Whether big holds little anywhere. */
int	fuzz_contains(const void *big, size_t len, const char *little);

/*
 * The fixture: <root>/data/XFEL/202401/p001111/usr/Shared/amore (proposal
 * 1111) and .../p002222/usr/Shared/amore-online (2222), with text, binary,
 * empty and too-large files, subfolders, symlinks inside and escaping
 * (relative, absolute, through a directory, through /proc), a FIFO, a
 * directory named like a log, and names with quotes, backslashes and
 * UTF-8. Outside the folders: <root>/secret.log and
 * <root>/outside/secret.log, FUZZ_SECRET_SIZE bytes of 'S' (no file inside
 * holds "SSSS"). Built once, removed at exit.
 */
#define FUZZ_SECRET_SIZE	7777
#define FUZZ_SECRET_CRC		"ed68c515"	/* CRC-32 of the secret */
#define FUZZ_MAX_FILE_SIZE	65536	/* the fixture daemon's max-file-size */
struct fuzz_tree {
	char	root[256];
	char	data_root[320];
	char	socket[320];
	char	folder[2][512];		/* 1111's and 2222's folder, resolved */
	int	folder_fd[2];		/* O_PATH of each */
	dev_t	secret_dev[2];
	ino_t	secret_ino[2];
};
const struct fuzz_tree *fuzz_tree(void);
/* The folder descriptor of proposal 1111 or 2222; -1 for any other. */
int	fuzz_tree_folder(unsigned proposal);
/* Whether st is one of the outside secrets. */
int	fuzz_tree_is_secret(const struct stat *st);
/* Reads name beneath the folder of proposal as watcherd may (a regular
   file, openat2 beneath the folder). Returns malloc()ed bytes with *len,
   or NULL. */
char	*fuzz_tree_read(unsigned proposal, const char *name, size_t *len);
/* The allow patterns of the fixture daemon: the defaults, and logs one
   folder down (so that escapes through a directory link are allowed names). */
extern char *const fuzz_allow[];
extern const size_t fuzz_n_allow;

/* The access setting of the fixture daemon: "open" unless a target sets
   another before it first calls fuzz_daemon(). */
extern const char *fuzz_access;

/* A watcherd on the fixture tree, built with daemon_init() as main()
   builds it, socket at fuzz_tree()->socket. Built once. */
struct daemon *fuzz_daemon(void);
/* Runs fuzz_daemon()'s loop in a thread of its own, for targets that talk
   to it as a separate process would. Once. */
void	fuzz_daemon_thread(void);

#endif
