/* CRC-32 of buffers and files, and its 8-digit hex form. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>

#include "common/crc.h"
#include "tests/unit/fixture.h"
#include "tests/unit/tap.h"

static void
test_vectors(void)
{
	static const struct {
		const char	*text;
		uint32_t	 crc;
	} cases[] = {
		{ "", 0x00000000 },
		{ "a", 0xe8b7be43 },
		{ "123456789", 0xcbf43926 },
		{ "The quick brown fox jumps over the lazy dog", 0x414fa339 },
	};
	char hex[CRC_HEX_LEN + 1];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		crc_format(cases[i].crc, hex);
		tap_ok(crc_buffer(cases[i].text, strlen(cases[i].text)) ==
		    cases[i].crc, "CRC-32 of \"%s\" is %s", cases[i].text, hex);
	}
	tap_ok(crc_buffer(NULL, 0) == 0, "CRC-32 of nothing (NULL, 0) is 0");
}

static void
test_format_parse(void)
{
	static const struct {
		uint32_t	 crc;
		const char	*hex;
	} formats[] = {
		{ 0, "00000000" },
		{ 0xabc, "00000abc" },
		{ 0xcbf43926, "cbf43926" },
		{ 0x0e6fd9b8, "0e6fd9b8" },
		{ 0xffffffff, "ffffffff" },
	};
	static const struct {
		const char	*hex;
		uint32_t	 crc;
		const char	*what;
	} parses[] = {
		{ "cbf43926", 0xcbf43926, "lowercase checksum is parsed" },
		{ "CBF43926", 0xcbf43926, "uppercase checksum is parsed" },
		{ "0E6fD9b8", 0x0e6fd9b8,
		    "mixed-case checksum with a leading zero is parsed" },
		{ "00000000", 0, "all-zero checksum is parsed" },
	};
	static const char *const bad[] = {
		"cbf4392", "cbf439260", "cbf4392g", "CBF4392G", "", " cbf4392",
		"cbf4392 ", "0x123456", "-1234567", "+1234567", "cbf4 926",
	};
	char hex[CRC_HEX_LEN + 2];
	uint32_t v;
	size_t i;

	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		memset(hex, 'X', sizeof(hex));
		crc_format(formats[i].crc, hex);
		tap_is_str(hex, formats[i].hex,
		    "%08x is formatted as 8 lowercase digits, NUL-terminated",
		    formats[i].crc);
	}

	for (i = 0; i < sizeof(parses) / sizeof(parses[0]); i++) {
		v = ~parses[i].crc;	/* so that a v left as it was is seen */
		tap_ok(crc_parse(parses[i].hex, &v) == 0 && v == parses[i].crc,
		    "%s", parses[i].what);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 42;
		tap_ok(crc_parse(bad[i], &v) == -1 && v == 42,
		    "checksum \"%s\" is refused and the output untouched",
		    bad[i]);
	}
	tap_ok(crc_parse("cbf43926\n", &v) == -1,
	    "checksum with a trailing newline is refused");
	for (i = 0; i < 1000; i++) {
		uint32_t c = (uint32_t)i * 2654435761u;

		crc_format(c, hex);
		if (crc_parse(hex, &v) == -1 || v != c)
			break;
	}
	tap_ok(i == 1000, "format then parse gives the checksum back");
}

static void
test_fd(void)
{
	enum { SIZE = 200 * 1024 };
	char dir[PATH_MAX], path[PATH_MAX];
	unsigned char *data = malloc(SIZE);
	uint32_t crc = 0;
	size_t len = 0, got = 0;
	ssize_t n;
	int fd;

	fixture_tmpdir(dir, sizeof(dir));
	fixture_path(path, sizeof(path), "%s/random.bin", dir);
	while (data && got < SIZE) {
		if ((n = getrandom(data + got, SIZE - got, 0)) <= 0)
			break;
		got += (size_t)n;
	}
	if (data == NULL || got != SIZE ||
	    fixture_write(path, data, SIZE) == -1 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		tap_ok(0, "create a 200 KB random file");
		free(data);
		fixture_rmtree(dir);
		return;
	}

	tap_ok(crc_fd(fd, &crc, &len) == 0, "crc_fd reads a 200 KB file");
	tap_ok(crc == crc_buffer(data, SIZE),
	    "crc_fd equals crc_buffer of the same bytes");
	tap_is_int((long long)len, SIZE, "crc_fd reports the file's length");

	lseek(fd, 1000, SEEK_SET);
	crc_fd(fd, &crc, &len);
	tap_ok(crc == crc_buffer(data + 1000, SIZE - 1000) &&
	    len == SIZE - 1000, "crc_fd starts at the current offset");
	crc_fd(fd, &crc, &len);
	tap_ok(crc == 0 && len == 0, "crc_fd at end of file is 0 bytes, CRC 0");
	close(fd);

	fixture_write(path, "", 0);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	crc = 1;
	len = 1;
	tap_ok(crc_fd(fd, &crc, &len) == 0 && crc == 0 && len == 0,
	    "an empty file has CRC 0 and length 0");
	close(fd);

	errno = 0;
	tap_ok(crc_fd(-1, &crc, &len) == -1 && errno == EBADF,
	    "a bad descriptor fails with EBADF");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	errno = 0;
	tap_ok(crc_fd(fd, &crc, &len) == -1 && errno == EISDIR,
	    "a directory fails with EISDIR");
	close(fd);

	free(data);
	fixture_rmtree(dir);
}

int
main(void)
{
	test_vectors();
	test_format_parse();
	test_fd();
	return tap_done();
}
