#include <stddef.h>
#include <sys/vfs.h>

#include "watcherd/fstype.h"

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
