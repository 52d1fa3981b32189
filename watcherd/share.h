/*
 * Slots for processes run on behalf of users (validators, the access
 * command), shared between the users: at most total taken at once, and
 * at most per_user by any one user, so that one user's many requests
 * cannot hold every slot while others wait. The bounds are given at each
 * take, so that a reload changes them at once; slots taken stay taken
 * until given back. Used from the loop only.
 */
#ifndef SHARE_H
#define SHARE_H

struct share_user;

struct share {
	unsigned		 taken;
	struct share_user	*users;		/* those holding slots */
};

enum share_answer {
	SHARE_TAKEN,
	SHARE_FULL,		/* total slots are taken */
	SHARE_USER_FULL,	/* the user holds per_user of them */
	SHARE_NO_MEMORY,
};

/* Takes a slot for user, or for a trusted peer (user NULL: counted in
   the total only). A struct share starts zeroed. */
enum share_answer share_take(struct share *, const char *user,
		    unsigned total, unsigned per_user);
/* Gives back a slot share_take() gave the same user. */
void		 share_give(struct share *, const char *user);

#endif
