/* CRC-32 (zlib's crc32, IEEE polynomial) of buffers and files. */
#ifndef CRC_H
#define CRC_H

#include <stddef.h>
#include <stdint.h>

#define CRC_HEX_LEN 8

/* The CRC-32 of len bytes. */
uint32_t crc_buffer(const void *buf, size_t len);
/* The CRC-32 of everything readable from fd (from its current offset to end
   of file). Returns 0 and sets *crc and *len, or -1 with errno. */
int	 crc_fd(int fd, uint32_t *crc, size_t *len);
/* Writes the 8 lowercase hex digits and a NUL into out. */
void	 crc_format(uint32_t crc, char out[CRC_HEX_LEN + 1]);
/* Parses 8 hex digits (either case). Returns 0 and sets *crc, or -1. */
int	 crc_parse(const char *s, uint32_t *crc);

#endif
