#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>

#include "watcherd/work/fstype.h"

/* statfs f_type magics; see statfs(2) and the file systems' sources. */
static const struct {
	unsigned long	 magic;
	const char	*name;
} remote_types[] = {
	{ 0x6969, "nfs" },
	{ 0x47504653, "gpfs" },
	{ 0x0bd00bd0, "lustre" },
	{ 0xff534d42, "cifs" },
	{ 0xfe534d42, "smb2" },
	{ 0x517b, "smb" },
	{ 0x65735546, "fuse" },
	{ 0x00c36400, "ceph" },
	{ 0x5346414f, "afs" },
	{ 0x6b414653, "kafs" },
	{ 0x01021997, "9p" },
	{ 0x73757245, "coda" },
	{ 0x7461636f, "ocfs2" },
	{ 0x01161970, "gfs2" },
	{ 0x19830326, "beegfs" },
	{ 0xaad7aad7, "panfs" },
	{ 0x20030528, "orangefs" },
	{ 0x564c, "ncp" },
};

int
fstype_is_remote(int fd, const char **name)
{
	struct statfs sfs;
	size_t i;

	*name = "local";
	if (fstatfs(fd, &sfs) == -1)
		return 0;
	for (i = 0; i < sizeof(remote_types) / sizeof(remote_types[0]); i++)
		if ((unsigned long)sfs.f_type == remote_types[i].magic) {
			*name = remote_types[i].name;
			return 1;
		}
	return 0;
}

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void
unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
			    (s[3] - '0'));
			s += 3;
		} else
			*out++ = *s;
	}
	*out = '\0';
}

int
fstype_mount_point(dev_t dev, char *buf, size_t len)
{
	char line[4096], want[32], point[4096];
	FILE *fp;
	int found = 0;

	snprintf(buf, len, "?");
	snprintf(want, sizeof(want), "%u:%u", major(dev), minor(dev));
	if ((fp = fopen("/proc/self/mountinfo", "re")) == NULL)
		return -1;
	/* "36 35 98:0 /root /mnt/point options ... - type source ..." */
	while (fgets(line, sizeof(line), fp)) {
		char id[32];

		if (sscanf(line, "%*s %*s %31s %*s %4095s", id, point) != 2 ||
		    strcmp(id, want) != 0)
			continue;
		unescape(point);
		snprintf(buf, len, "%s", point);
		found = 1;
	}
	fclose(fp);
	return found ? 0 : -1;
}
