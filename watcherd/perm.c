#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "watcherd/perm.h"

/* Linux's stored form of an ACL (include/uapi/linux/posix_acl_xattr.h):
   a little-endian version word, then 8-byte entries sorted by tag. */
#define ACL_XATTR		"system.posix_acl_access"
#define ACL_XATTR_VERSION	2
#define ACL_USER_OBJ		0x01
#define ACL_USER		0x02
#define ACL_GROUP_OBJ		0x04
#define ACL_GROUP		0x08
#define ACL_MASK		0x10
#define ACL_OTHER		0x20

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

void
perm_node_set_acl(struct perm_node *node, const void *xattr, size_t len)
{
	const unsigned char *p = xattr;
	size_t i, n;

	node->n_acl = 0;
	node->acl = -1;
	if (len < 4 || (len - 4) % 8 != 0 || le32(p) != ACL_XATTR_VERSION)
		return;
	if ((n = (len - 4) / 8) > PERM_ACL_MAX)
		return;
	for (i = 0; i < n; i++) {
		p = (const unsigned char *)xattr + 4 + i * 8;
		node->acl_entries[i].tag = (uint16_t)(p[0] | p[1] << 8);
		node->acl_entries[i].perm = (uint16_t)(p[2] | p[3] << 8);
		node->acl_entries[i].id = le32(p + 4);
	}
	node->n_acl = n;
	node->acl = 1;
}

int
perm_node_read(int fd, struct perm_node *node)
{
	unsigned char buf[4 + 8 * PERM_ACL_MAX];
	char path[32];
	struct stat sb;
	ssize_t len;

	if (fstat(fd, &sb) == -1)
		return -1;
	memset(node, 0, offsetof(struct perm_node, acl_entries));
	node->mode = sb.st_mode;
	node->uid = sb.st_uid;
	node->gid = sb.st_gid;
	node->ctime = sb.st_ctim;
	/* getxattr() takes no O_PATH descriptor, but its /proc link. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if ((len = getxattr(path, ACL_XATTR, buf, sizeof(buf))) >= 0)
		perm_node_set_acl(node, buf, (size_t)len);
	else if (errno == ERANGE)
		node->acl = -1;
	else if (errno != ENODATA && errno != ENOTSUP)
		return -1;
	return 0;
}

static int
in_group(const struct perm_user *u, gid_t gid)
{
	size_t i;

	for (i = 0; i < u->n_groups; i++)
		if (u->groups[i] == gid)
			return 1;
	return u->gid == gid;
}

/* posix_acl_permission(): the named user's entry, or the first group
   entry (owning group or named) of the user's that grants want, each
   limited by the mask; a user in some listed group that grants nothing
   gets nothing, others get the other entry. */
static int
acl_allows(const struct perm_user *u, const struct perm_node *node,
    unsigned want)
{
	const struct perm_acl_entry *e, *hit = NULL, *other = NULL;
	unsigned mask = 7;
	size_t i;
	int found = 0;

	for (i = 0; i < node->n_acl; i++) {
		e = &node->acl_entries[i];
		switch (e->tag) {
		case ACL_USER:
			if (hit == NULL && e->id == u->uid)
				hit = e;
			break;
		case ACL_GROUP_OBJ:
		case ACL_GROUP:
			if (hit == NULL && in_group(u, e->tag == ACL_GROUP ?
			    (gid_t)e->id : node->gid)) {
				found = 1;
				if ((e->perm & want) == want)
					hit = e;
			}
			break;
		case ACL_MASK:
			mask = e->perm;
			break;
		case ACL_OTHER:
			other = e;
			break;
		}
	}
	if (hit)
		return (hit->perm & mask & want) == want;
	if (found || other == NULL)
		return 0;
	return (other->perm & want) == want;
}

int
perm_allows(const struct perm_user *u, const struct perm_node *node, int want)
{
	unsigned w = (unsigned)want & 7, bits;

	if (u->uid == node->uid)
		bits = (node->mode >> 6) & 7;
	else if (node->acl == -1)
		return 0;
	else if (node->acl == 1 && (node->mode & S_IRWXG))
		return acl_allows(u, node, w);
	else if (in_group(u, node->gid))
		bits = (node->mode >> 3) & 7;
	else
		bits = node->mode & 7;
	return (bits & w) == w;
}
