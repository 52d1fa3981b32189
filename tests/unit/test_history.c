/* The versions of a file kept beside it (watcherd/watch/history.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "common/crc.h"
#include "tests/unit/fixture.h"
#include "tests/unit/tap.h"
#include "watcherd/watch/history.h"

static struct history_bounds bounds = { ".history", 500, 1 << 20 };

/* Version i of a file: "text i\n", at time 1000 + i. */
static struct history_version
version(int i, char *text, size_t len, int saved, const char *user)
{
	struct history_version v = { .saved = saved };

	snprintf(text, len, "text %d\n", i);
	v.time.tv_sec = 1000 + i;
	v.time.tv_nsec = 5;
	v.crc = crc_buffer(text, strlen(text));
	v.size = strlen(text);
	snprintf(v.user, sizeof(v.user), "%s", user ? user : "");
	return v;
}

/* How many entries the file's history directory holds, versions and
   temporary files alike. */
static int
entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' || strncmp(de->d_name, ".tmp-", 5) == 0)
			n++;
	closedir(d);
	return n;
}

int
main(void)
{
	char dir[PATH_MAX], hist[PATH_MAX], path[PATH_MAX], text[64];
	struct history_version v, got, *list;
	size_t n;
	char *data;
	int fd, i, ok;

	fixture_tmpdir(dir, sizeof(dir));
	fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	fixture_path(hist, sizeof(hist), "%s/.history/context.py", dir);

	tap_ok(history_list(fd, "context.py", ".history", &list, &n) == 0 &&
	    n == 0, "a file without history has no versions");

	v = version(1, text, sizeof(text), 0, NULL);
	tap_ok(history_record(fd, "context.py", &bounds, NULL, NULL, &v, text) == 1,
	    "a change seen on disk is recorded");
	tap_ok(history_record(fd, "context.py", &bounds, NULL, NULL, &v, text) == 0,
	    "the same change seen again (another watcherd) is not");
	v.time.tv_sec += 10;
	tap_ok(history_record(fd, "context.py", &bounds, NULL, NULL, &v, text) == 0,
	    "nor the same bytes again (a touch)");

	v = version(2, text, sizeof(text), 0, NULL);
	history_record(fd, "context.py", &bounds, NULL, NULL, &v, text);
	v.saved = 1;
	snprintf(v.user, sizeof(v.user), "alice/x-y%%z");
	tap_ok(history_record(fd, "context.py", &bounds, NULL, NULL, &v, text) == 1 &&
	    entries(hist) == 2,
	    "a save's version takes the place of a disk one of the same time "
	    "and checksum");

	ok = history_list(fd, "context.py", ".history", &list, &n) == 0 &&
	    n == 2 && list[0].saved && strcmp(list[0].user, "alice/x-y%z") == 0 &&
	    list[0].time.tv_sec == 1002 && list[0].time.tv_nsec == 5 &&
	    list[0].size == 7 && !list[1].saved && list[1].user[0] == '\0';
	tap_ok(ok, "listed newest first, with time, size, source and user");
	free(list);

	tap_ok(history_read(fd, "context.py", ".history", v.crc, 1 << 20, &got,
	    &data) == 0 && got.size == 7 && memcmp(data, "text 2\n", 7) == 0,
	    "a version is read back by its checksum");
	free(data);
	errno = 0;
	tap_ok(history_read(fd, "context.py", ".history", 0x12345678, 1 << 20,
	    &got, &data) == -1 && errno == ENOENT,
	    "an unknown checksum is ENOENT");
	errno = 0;
	tap_ok(history_read(fd, "context.py", ".history", v.crc, 3, &got,
	    &data) == -1 && errno == EFBIG, "a version over max is EFBIG");

	/* A crash between writing a version and linking it leaves a
	   temporary file: never listed, and removed once old. */
	fixture_path(path, sizeof(path), "%s/.tmp-deadbeef0000", hist);
	fixture_write(path, "half", 4);
	tap_ok(history_list(fd, "context.py", ".history", &list, &n) == 0 &&
	    n == 2, "a crash's temporary file is no version");
	free(list);
	{
		struct timespec old[2] = { { 1000, 0 }, { 1000, 0 } };

		utimensat(AT_FDCWD, path, old, 0);
	}
	v = version(3, text, sizeof(text), 0, NULL);
	history_record(fd, "context.py", &bounds, NULL, NULL, &v, text);
	tap_ok(access(path, F_OK) == -1, "and is removed by a later record");

	/* The bounds: keep 3, then bytes. */
	bounds.keep = 3;
	for (i = 4; i < 10; i++) {
		v = version(i, text, sizeof(text), 0, NULL);
		history_record(fd, "context.py", &bounds, NULL, NULL, &v, text);
	}
	ok = history_list(fd, "context.py", ".history", &list, &n) == 0 &&
	    n == 3 && list[0].time.tv_sec == 1009 && list[2].time.tv_sec == 1007;
	tap_ok(ok, "history-keep: the newest 3 stay");
	free(list);
	bounds.keep = 500;
	bounds.max_bytes = 15;
	v = version(10, text, sizeof(text), 0, NULL);
	history_record(fd, "context.py", &bounds, NULL, NULL, &v, text);
	ok = history_list(fd, "context.py", ".history", &list, &n) == 0 &&
	    n == 2 && list[0].time.tv_sec == 1010;
	tap_ok(ok, "history-max-bytes: the oldest go first, past the bound");
	free(list);
	bounds.max_bytes = 1;
	v = version(11, text, sizeof(text), 0, NULL);
	history_record(fd, "context.py", &bounds, NULL, NULL, &v, text);
	tap_ok(history_list(fd, "context.py", ".history", &list, &n) == 0 &&
	    n == 1 && list[0].time.tv_sec == 1011,
	    "the newest stays, even over the bound");
	free(list);
	bounds.max_bytes = 1 << 20;

	/* A member's link named .history leads nowhere. */
	fixture_path(path, sizeof(path), "%s/.history", dir);
	fixture_rmtree(path);
	fixture_path(hist, sizeof(hist), "%s/elsewhere", dir);
	mkdir(hist, 0755);
	(void)!symlink("elsewhere", path);
	v = version(12, text, sizeof(text), 0, NULL);
	errno = 0;
	tap_ok(history_record(fd, "context.py", &bounds, NULL, NULL, &v, text) == -1 &&
	    errno == ENOTDIR && entries(hist) == 0,
	    "a .history that is a link is not followed: nothing is written");
	tap_ok(history_list(fd, "context.py", ".history", &list, &n) == -1,
	    "nor listed");

	/* Names with a slash and odd bytes are one directory each. */
	unlink(path);
	v = version(13, text, sizeof(text), 1, "bob");
	tap_ok(history_record(fd, "sub dir/ctx-1.py", &bounds, NULL, NULL, &v, text) == 1 &&
	    history_list(fd, "sub dir/ctx-1.py", ".history", &list, &n) == 0 &&
	    n == 1 && strcmp(list[0].user, "bob") == 0,
	    "a name with a slash, a blank and a dash has its own history");
	free(list);

	close(fd);
	fixture_rmtree(dir);
	return tap_done();
}
