/*
 * What an account may do by bits and POSIX ACLs, decided as Linux does:
 * owner bits, group and other bits, named users and groups under the mask,
 * the first granting group entry, and ACLs that cannot be judged. The
 * bats suite members.bats checks the same against the kernel on real
 * files; this checks the rules one by one.
 */
#include <string.h>
#include <sys/stat.h>

#include "watcherd/perm.h"
#include "tests/unit/tap.h"

#define USER_OBJ	0x01
#define USER		0x02
#define GROUP_OBJ	0x04
#define GROUP		0x08
#define MASK		0x10
#define OTHER		0x20

static struct perm_user alice = { .uid = 1001, .gid = 1001, .n_groups = 2,
    .groups = { 1001, 2000 } };
static struct perm_user bob = { .uid = 1002, .gid = 1002, .n_groups = 1,
    .groups = { 1002 } };

/* A node owned by root:2000 with mode, and the ACL given as
   (tag, perm, id) triples, stored as Linux stores it. */
static struct perm_node
node(mode_t mode, const unsigned *acl, size_t n)
{
	unsigned char buf[4 + 8 * 40];
	struct perm_node nd;
	size_t i;

	memset(&nd, 0, sizeof(nd));
	nd.mode = S_IFREG | mode;
	nd.uid = 0;
	nd.gid = 2000;
	if (n == 0)
		return nd;
	memset(buf, 0, sizeof(buf));
	buf[0] = 2;
	for (i = 0; i < n; i++) {
		buf[4 + i * 8] = (unsigned char)acl[i * 3];
		buf[4 + i * 8 + 2] = (unsigned char)acl[i * 3 + 1];
		buf[4 + i * 8 + 4] = (unsigned char)(acl[i * 3 + 2] & 0xff);
		buf[4 + i * 8 + 5] = (unsigned char)(acl[i * 3 + 2] >> 8);
	}
	perm_node_set_acl(&nd, buf, 4 + n * 8);
	return nd;
}

int
main(void)
{
	struct perm_node nd;
	unsigned named_user[] = { USER_OBJ, 7, 0, USER, 5, 1002, GROUP_OBJ, 5, 0,
	    MASK, 5, 0, OTHER, 0, 0 };
	unsigned masked[] = { USER_OBJ, 7, 0, USER, 7, 1002, GROUP_OBJ, 7, 0,
	    MASK, 1, 0, OTHER, 0, 0 };
	unsigned group_none[] = { USER_OBJ, 7, 0, GROUP_OBJ, 0, 0, GROUP, 5,
	    1002, MASK, 5, 0, OTHER, 5, 0 };
	unsigned first_grant[] = { USER_OBJ, 7, 0, GROUP_OBJ, 4, 0, GROUP, 1,
	    1001, MASK, 7, 0, OTHER, 0, 0 };
	unsigned char junk[] = { 1, 0, 0, 0, 1, 0, 7, 0, 0, 0, 0, 0 };

	nd = node(0640, NULL, 0);
	tap_ok(perm_allows(&alice, &nd, PERM_READ) &&
	    !perm_allows(&alice, &nd, PERM_WRITE),
	    "a member of the owning group gets the group bits");
	tap_ok(!perm_allows(&bob, &nd, PERM_READ), "others get the other bits");
	nd = node(0604, NULL, 0);
	tap_ok(!perm_allows(&alice, &nd, PERM_READ) &&
	    perm_allows(&bob, &nd, PERM_READ),
	    "group bits count for the group even when other has more");
	nd = node(0044, NULL, 0);
	nd.uid = 1001;
	tap_ok(!perm_allows(&alice, &nd, PERM_READ),
	    "the owner gets the owner bits only");
	nd = node(0750, named_user, 5);
	tap_ok(nd.acl == 1 && perm_allows(&bob, &nd, PERM_READ | PERM_SEARCH) &&
	    !perm_allows(&bob, &nd, PERM_WRITE),
	    "a named user entry grants under the mask");
	nd = node(0710, masked, 5);
	tap_ok(!perm_allows(&bob, &nd, PERM_READ) &&
	    perm_allows(&bob, &nd, PERM_SEARCH) &&
	    !perm_allows(&alice, &nd, PERM_READ),
	    "the mask limits named users and the owning group");
	nd = node(0755, group_none, 5);
	tap_ok(!perm_allows(&alice, &nd, PERM_READ) &&
	    perm_allows(&bob, &nd, PERM_READ),
	    "a user in a listed group that grants nothing gets nothing, not "
	    "other");
	nd = node(0770, first_grant, 5);
	tap_ok(perm_allows(&alice, &nd, PERM_READ) &&
	    perm_allows(&alice, &nd, PERM_SEARCH) &&
	    !perm_allows(&alice, &nd, PERM_READ | PERM_SEARCH),
	    "any one group entry that grants all of what is asked counts");
	nd = node(0700, group_none, 5);
	tap_ok(!perm_allows(&bob, &nd, PERM_READ),
	    "with group bits 0 the ACL is not looked at");
	nd = node(0755, NULL, 0);
	perm_node_set_acl(&nd, junk, sizeof(junk));
	tap_ok(nd.acl == -1 && !perm_allows(&bob, &nd, PERM_READ),
	    "an ACL that cannot be read denies everybody but the owner");
	return tap_done();
}
