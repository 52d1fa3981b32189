/* Which file systems inotify cannot be trusted on. */
#ifndef FSTYPE_H
#define FSTYPE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Returns 1 when fd lives on a network or cluster file system (NFS, GPFS,
 * Lustre, CIFS/SMB, FUSE, Ceph, AFS, 9p, ...), where other hosts' writes
 * raise no inotify event, else 0 (also when statfs fails). *name is set
 * to a static name of the file system type.
 */
int	fstype_is_remote(int fd, const char **name);

/*
 * Writes into buf the mount point of the file system dev, from
 * /proc/self/mountinfo (the last mount of it, the one visible). Returns
 * 0, or -1 when it is not found (buf is then "?").
 */
int	fstype_mount_point(dev_t dev, char *buf, size_t len);

#endif
