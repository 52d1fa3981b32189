/* Which file systems inotify cannot be trusted on. */
#ifndef FSTYPE_H
#define FSTYPE_H

/*
 * Returns 1 when fd lives on a network or cluster file system (NFS, GPFS,
 * Lustre, CIFS/SMB, FUSE, Ceph, AFS, 9p, ...), where other hosts' writes
 * raise no inotify event, else 0 (also when statfs fails). *name is set
 * to a static name of the file system type.
 */
int	fstype_is_remote(int fd, const char **name);

#endif
