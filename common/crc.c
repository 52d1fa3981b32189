#include <zlib.h>

#include "common/crc.h"
#include "common/io.h"

uint32_t
crc_buffer(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uLong crc = crc32(0L, Z_NULL, 0);

	/* zlib takes uInt lengths: feed buffers over 4 GiB in slices. */
	while (len > 0) {
		uInt n = len > 0x40000000u ? 0x40000000u : (uInt)len;

		crc = crc32(crc, p, n);
		p += n;
		len -= n;
	}
	return (uint32_t)crc;
}

int
crc_fd(int fd, uint32_t *crc, size_t *len)
{
	unsigned char buf[65536];
	uLong c = crc32(0L, Z_NULL, 0);
	size_t total = 0;
	ssize_t n;

	do {
		if ((n = io_read_full(fd, buf, sizeof(buf))) == -1)
			return -1;
		c = crc32(c, buf, (uInt)n);
		total += (size_t)n;
	} while ((size_t)n == sizeof(buf));
	*crc = (uint32_t)c;
	*len = total;
	return 0;
}

void
crc_format(uint32_t crc, char out[CRC_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for (i = CRC_HEX_LEN - 1; i >= 0; i--) {
		out[i] = hex[crc & 0xf];
		crc >>= 4;
	}
	out[CRC_HEX_LEN] = '\0';
}

int
crc_parse(const char *s, uint32_t *crc)
{
	uint32_t v = 0;
	int i, d;

	for (i = 0; i < CRC_HEX_LEN; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			d = s[i] - '0';
		else if (s[i] >= 'a' && s[i] <= 'f')
			d = s[i] - 'a' + 10;
		else if (s[i] >= 'A' && s[i] <= 'F')
			d = s[i] - 'A' + 10;
		else
			return -1;
		v = v << 4 | (uint32_t)d;
	}
	if (s[CRC_HEX_LEN] != '\0')
		return -1;
	*crc = v;
	return 0;
}
