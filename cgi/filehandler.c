/*
 * filehandler.fcgi: the HTTP face of watcherd. Started by a web server as
 * FastCGI it answers requests until the server stops it; run by hand (or
 * as plain CGI) it answers the one request its environment describes.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <fcgiapp.h>

#include "cgi/http.h"
#include "cgi/routes.h"
#include "cgi/upstream.h"
#include "common/proto.h"

/* A request never waits longer than this for watcherd. */
#define WATCHERD_TIMEOUT_MS 1000

int
main(void)
{
	struct http_exchange x;
	struct upstream up;
	FCGX_Request req;

	/* A web server that goes away mid-answer is no reason to die. */
	signal(SIGPIPE, SIG_IGN);
	upstream_init(&up, proto_default_socket(), WATCHERD_TIMEOUT_MS);
	if (FCGX_Init() != 0) {
		fprintf(stderr, "filehandler.fcgi: cannot initialise libfcgi\n");
		return 1;
	}
	if (FCGX_IsCGI()) {
		memset(&x, 0, sizeof(x));
		routes_dispatch(&x, &up);
		upstream_close(&up);
		return 0;
	}
	if (FCGX_InitRequest(&req, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&req) == 0) {
		memset(&x, 0, sizeof(x));
		x.fcgi = &req;
		routes_dispatch(&x, &up);
		FCGX_Finish_r(&req);
	}
	upstream_close(&up);
	return 0;
}
