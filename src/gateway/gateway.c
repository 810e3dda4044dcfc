/*-------------------------------------------------------------------------
 * payment_records_gateway: Stripe's HTTP paths for payment_records.
 *
 * Each HTTP request becomes one payment_records.http_request() call, in a
 * transaction of its own.  HTTP threads (libmicrohttpd, epoll) never wait
 * for the database: a complete request is queued and its connection
 * suspended; one of --pool database workers, each with its own libpq
 * connection, runs it and resumes the connection with the response.  The
 * transaction is two statements sent in one libpq pipeline and committed
 * at its sync point:
 *
 *   1. payment_records.authenticate_api_key(secret): the key's role, or
 *      SQLSTATE 28000 with Stripe's "Invalid API Key" message; the
 *      statement also sets, for this transaction only, role (SET LOCAL
 *      ROLE) and statement_timeout;
 *   2. payment_records.http_request(method, path?query, body, key), run as
 *      the key's role: the database decides the status and the body.
 *
 * The gateway itself only speaks HTTP: it reads the key from the
 * Authorization header, bounds what clients may send, and turns the few
 * errors that are not answers of the API (bad key, no privilege, timeout,
 * database gone) into Stripe-shaped error bodies.  It logs one line per
 * request (time, request id, method, path without query, status,
 * duration), never a body, a query string or a key.
 *
 * Usage: payment_records_gateway [--listen ADDR] [--port N]
 *            [--conninfo STR] [--pool N] ...   (see usage() below)
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <microhttpd.h>

#define API_VERSION			"2026-10-28"
#define REQUEST_ID_CHARS	14
#define MAX_KEY_LEN			255

/* settings (flags, or PR_GATEWAY_* environment variables) */
static const char *opt_listen = "127.0.0.1";
static int	opt_port = 8787;
static const char *opt_conninfo = "";
static int	opt_pool = 4;
static long opt_max_body = 256 * 1024;
static long opt_max_header = 16 * 1024;
static int	opt_max_connections = 1000;
static int	opt_timeout = 30;		/* idle connection, seconds */
static int	opt_statement_timeout = 10000;	/* ms */
static int	opt_drain = 30;			/* seconds to finish in-flight requests */
static int	opt_retry_connect = 1;	/* seconds between reconnection attempts */

static atomic_int inflight = 0;
static atomic_bool draining = false;

/* one PostgreSQL connection per HTTP worker thread */
typedef struct DbConn
{
	PGconn	   *conn;
	time_t		last_attempt;
	/* under all_db_lock: for main() to cancel what the worker runs */
	PGcancel   *cancel;
	bool		busy;			/* a request is in the database */
	struct DbConn *next;
} DbConn;

static __thread DbConn *thread_db = NULL;
static DbConn *all_db = NULL;
static pthread_mutex_t all_db_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *SQL_AUTH =
"SELECT pg_catalog.set_config('role', a.role_name, true),"
" pg_catalog.set_config('statement_timeout', $2, true), a.restricted"
" FROM payment_records.authenticate_api_key($1) a";
static const char *SQL_REQUEST =
"SELECT r.status, r.body::text FROM payment_records.http_request($1, $2, $3, $4) r";

/* one HTTP request in progress */
typedef enum ReqState
{
	RS_NEW,						/* headers and body being read */
	RS_QUEUED,					/* suspended, waiting for a database worker */
	RS_DONE						/* the worker made the response: queue it */
} ReqState;

struct DbConn;

typedef struct Request
{
	struct timespec start;
	struct timespec queued;
	char		id[4 + REQUEST_ID_CHARS + 1];
	char	   *body;
	size_t		body_len;
	size_t		body_cap;
	bool		too_large;
	bool		answered;
	bool		started;		/* the headers were seen by on_request() */
	bool		path_nul;		/* the percent-decoded path has a NUL */
	const char *uri;			/* the request target as on_uri() saw it */
	size_t		uri_len;		/* up to its first NUL */
	int			status;
	char		method[16];
	char		path[128];		/* for the log line only: see on_uri() */
	/* for the database worker */
	_Atomic ReqState state;
	struct MHD_Connection *connection;
	char	   *key;
	char		masked[40];
	char	   *full_method;
	char	   *full_path;		/* path and query string */
	char	   *idem;
	struct MHD_Response *response;
	int			response_status;
	struct Request *next;		/* in the queue for the database workers */

	/*
	 * Under pending_lock: a suspended request is on the pending list until
	 * its connection is resumed, by the worker that ran it or, when the
	 * drain time is up, by main() with a 503 (abandoned).  refs counts the
	 * HTTP side (until on_completed) and the worker side (from the queue
	 * until the worker is done with it): the last one frees the request.
	 */
	int			refs;
	bool		abandoned;
	struct Request *pprev;
	struct Request *pnext;
} Request;

/*
 * Requests waiting for a database worker.  At most one per connection, so
 * --max-connections bounds it; one that waited --queue-timeout is answered
 * 429 without running.
 */
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_cond = PTHREAD_COND_INITIALIZER;
static Request *queue_head = NULL;
static Request *queue_tail = NULL;
static bool workers_stop = false;
static int	opt_queue_timeout = 5000;	/* ms */
static int	opt_http_threads = 2;

/* the suspended requests (see Request) */
static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;
static Request *pending_head = NULL;
static int	pending_count = 0;
/* set by main() when the drain time is up: no request goes to the database */
static atomic_bool stopping = false;
/* set, under pending_lock, once main() answered the pending requests 503 */
static bool refuse_suspend = false;

/* ---------------------------------------------------------------------
 * small helpers
 * ---------------------------------------------------------------------
 */
static void log_line(const char *fmt,...) __attribute__((format(printf, 1, 2)));
static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/*
 * Write one line to stderr: a UTC timestamp with milliseconds, then the
 * printf-formatted message (cut at 1 kB).
 */
static void
log_line(const char *fmt,...)
{
	char		buf[1024];
	char		ts[40];
	struct timespec now;
	struct tm	tm;
	va_list		ap;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s.%03ldZ %s\n", ts, now.tv_nsec / 1000000, buf);
}

/*
 * Fill buf from getrandom(), retrying short reads and EINTR; aborts on
 * any other failure.
 */
static void
random_bytes(unsigned char *buf, size_t len)
{
	size_t		got = 0;

	while (got < len)
	{
		ssize_t		n = getrandom(buf + got, len - got, 0);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			abort();
		}
		got += (size_t) n;
	}
}

/*
 * A new "req_" id of REQUEST_ID_CHARS random alphanumerics, for the log
 * and the Request-Id header.
 */
static void
new_request_id(char *out)
{
	static const char alnum[] =
		"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	unsigned char r[REQUEST_ID_CHARS];
	int			i;

	random_bytes(r, sizeof(r));
	memcpy(out, "req_", 4);
	for (i = 0; i < REQUEST_ID_CHARS; i++)
		out[4 + i] = alnum[r[i] % 62];
	out[4 + REQUEST_ID_CHARS] = '\0';
}

/* copy for the log: printable ASCII only, bounded */
static void
copy_printable(char *dst, size_t size, const char *src)
{
	size_t		i;

	for (i = 0; src != NULL && src[i] != '\0' && i + 1 < size; i++)
		dst[i] = (src[i] > 32 && src[i] < 127) ? src[i] : '.';
	dst[i] = '\0';
}

/* a growable string */
typedef struct Buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Buf;

/*
 * Append n bytes of s to b, growing it by doubling and keeping it
 * NUL-terminated; aborts when out of memory.
 */
static void
buf_append(Buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 256;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->data = realloc(b->data, cap);
		if (b->data == NULL)
			abort();
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* Append a C string to b. */
static void
buf_puts(Buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

/* s as a JSON string (quotes included) */
static void
buf_json_string(Buf *b, const char *s)
{
	buf_puts(b, "\"");
	for (; *s != '\0'; s++)
	{
		unsigned char c = (unsigned char) *s;
		char		esc[8];

		if (c == '"' || c == '\\')
		{
			esc[0] = '\\';
			esc[1] = (char) c;
			buf_append(b, esc, 2);
		}
		else if (c < 0x20)
		{
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			buf_puts(b, esc);
		}
		else
			buf_append(b, s, 1);
	}
	buf_puts(b, "\"");
}

/* Stripe's error body: {"error": {"code"?, "message", "type"}} */
static char *
error_body(const char *type, const char *code, const char *message)
{
	Buf			b = {0};

	buf_puts(&b, "{\n  \"error\": {\n");
	if (code != NULL)
	{
		buf_puts(&b, "    \"code\": ");
		buf_json_string(&b, code);
		/* codes are the gateway's own literals: [a-z_], nothing to escape */
		buf_puts(&b, ",\n    \"doc_url\": \"https://stripe.com/docs/error-codes/");
		buf_puts(&b, code);
		buf_puts(&b, "\",\n");
	}
	buf_puts(&b, "    \"message\": ");
	buf_json_string(&b, message);
	buf_puts(&b, ",\n    \"type\": ");
	buf_json_string(&b, type);
	buf_puts(&b, "\n  }\n}\n");
	return b.data;
}

/* the key as Stripe shows it in errors: prefix, stars, last four */
static void
mask_key(char *out, size_t size, const char *key)
{
	size_t		len = strlen(key);
	bool		known = (len >= 8 &&
						 (strncmp(key, "sk_test_", 8) == 0 || strncmp(key, "sk_live_", 8) == 0 ||
						  strncmp(key, "rk_test_", 8) == 0 || strncmp(key, "rk_live_", 8) == 0));

	snprintf(out, size, "%.*s****%s", known ? 8 : 0, key,
			 len >= 20 ? key + len - 4 : "");
}

/* ---------------------------------------------------------------------
 * responses
 * ---------------------------------------------------------------------
 */

/*
 * A JSON response with body (copied) and the headers every answer has:
 * Request-Id, Stripe-Version, no caching; Idempotency-Key and
 * Stripe-Should-Retry when given, Connection: close while draining.
 */
static struct MHD_Response *
make_response(Request *req, const char *body,
			  const char *idempotency_key, bool should_retry)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer(strlen(body), (void *) body,
										   MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return NULL;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Request-Id", req->id);
	MHD_add_response_header(resp, "Stripe-Version", API_VERSION);
	MHD_add_response_header(resp, "Cache-Control", "no-cache, no-store");
	if (idempotency_key != NULL)
		MHD_add_response_header(resp, "Idempotency-Key", idempotency_key);
	if (should_retry)
		MHD_add_response_header(resp, "Stripe-Should-Retry", "true");
	if (atomic_load(&draining))
		MHD_add_response_header(resp, "Connection", "close");
	return resp;
}

/*
 * A Stripe-shaped error response; 409, 429 and 503 tell the client to
 * retry (Stripe-Should-Retry).
 */
static struct MHD_Response *
make_error(Request *req, int status, const char *type, const char *code,
		   const char *message)
{
	char	   *body = error_body(type, code, message);
	struct MHD_Response *resp = make_response(req, body, NULL,
											  status == 503 || status == 409 ||
											  status == 429);

	free(body);
	return resp;
}

/* queue a response made in this (HTTP) thread */
static enum MHD_Result
queue_made(struct MHD_Connection *connection, Request *req, int status,
		   struct MHD_Response *resp)
{
	enum MHD_Result ret;

	if (resp == NULL)
		return MHD_NO;
	req->status = status;
	ret = MHD_queue_response(connection, (unsigned int) status, resp);
	MHD_destroy_response(resp);
	req->answered = true;
	return ret;
}

/* Make and queue an error response from this (HTTP) thread. */
static enum MHD_Result
respond_error(struct MHD_Connection *connection, Request *req, int status,
			  const char *type, const char *code, const char *message)
{
	return queue_made(connection, req, status, make_error(req, status, type, code, message));
}

/*
 * A 400 for a request whose framing or headers are ambiguous (two
 * Content-Length, Content-Length with Transfer-Encoding, ...): answered
 * as soon as the headers are read, and the connection is closed after it,
 * so that nothing after these headers is read as another request.  (An
 * answer queued before the body makes libmicrohttpd close anyway; the
 * header says so to the client and holds if that ever changes.)
 */
static enum MHD_Result
refuse_and_close(struct MHD_Connection *connection, Request *req,
				 const char *message)
{
	struct MHD_Response *resp = make_error(req, 400, "invalid_request_error",
										   NULL, message);

	if (resp != NULL)
		MHD_add_response_header(resp, "Connection", "close");
	return queue_made(connection, req, 400, resp);
}

/* ---------------------------------------------------------------------
 * the database
 * ---------------------------------------------------------------------
 */

/*
 * Close a worker's database connection and forget its cancel handle, so
 * that get_conn() reconnects.
 */
static void
drop_conn(DbConn *db)
{
	pthread_mutex_lock(&all_db_lock);
	if (db->cancel != NULL)
		PQfreeCancel(db->cancel);
	db->cancel = NULL;
	pthread_mutex_unlock(&all_db_lock);
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
}

/* this thread's connection, ready for a pipeline, or NULL (retry later) */
static PGconn *
get_conn(void)
{
	DbConn	   *db = thread_db;
	PGresult   *res;
	time_t		now = time(NULL);

	if (db == NULL)
	{
		db = calloc(1, sizeof(DbConn));
		if (db == NULL)
			return NULL;
		pthread_mutex_lock(&all_db_lock);
		db->next = all_db;
		all_db = db;
		pthread_mutex_unlock(&all_db_lock);
		thread_db = db;
	}
	if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK &&
		PQpipelineStatus(db->conn) == PQ_PIPELINE_ON)
		return db->conn;
	drop_conn(db);
	if (db->last_attempt != 0 && now - db->last_attempt < opt_retry_connect)
		return NULL;
	db->last_attempt = now;

	{
		/* defaults that --conninfo may override: a dead host fails in 5 s */
		const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
		const char *const vals[] = {"5", "payment_records_gateway", opt_conninfo, NULL};

		db->conn = PQconnectdbParams(keys, vals, 1);
	}
	if (PQstatus(db->conn) != CONNECTION_OK)
	{
		log_line("database connection failed: %s",
				 strtok(PQerrorMessage(db->conn), "\n") ?: "");
		drop_conn(db);
		return NULL;
	}
	res = PQprepare(db->conn, "auth", SQL_AUTH, 2, NULL);
	if (PQresultStatus(res) == PGRES_COMMAND_OK)
	{
		PQclear(res);
		res = PQprepare(db->conn, "request", SQL_REQUEST, 4, NULL);
	}
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		log_line("preparing statements failed (is payment_records 1.1 installed, and the login role a member of payment_records_gateway?): %s",
				 strtok(PQresultErrorMessage(res), "\n") ?: "");
		PQclear(res);
		drop_conn(db);
		return NULL;
	}
	PQclear(res);
	if (PQenterPipelineMode(db->conn) != 1)
	{
		drop_conn(db);
		return NULL;
	}
	pthread_mutex_lock(&all_db_lock);
	db->cancel = PQgetCancel(db->conn);
	pthread_mutex_unlock(&all_db_lock);
	return db->conn;
}

/* the results of one pipeline: auth, request, sync */
typedef struct Outcome
{
	int			status;			/* from http_request, or 0 */
	char	   *body;			/* from http_request, malloc'd */
	char		sqlstate[6];	/* first error's, or "" */
	char	   *message;		/* first error's primary message, malloc'd */
	bool		error_in_auth;
	bool		restricted;
	bool		broken;			/* the connection failed */
} Outcome;

/*
 * Keep the first error of a pipeline (SQLSTATE, message, and whether it
 * came from authentication); later ones follow from it and are ignored.
 */
static void
note_error(Outcome *o, PGresult *res, bool in_auth)
{
	const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	if (o->sqlstate[0] != '\0')
		return;
	snprintf(o->sqlstate, sizeof(o->sqlstate), "%s", st ? st : "XX000");
	o->message = strdup(msg ? msg : "");
	o->error_in_auth = in_auth;
}

/*
 * Send authentication and http_request() in one pipeline and read all
 * their results up to the sync into *o: the status and body, or the
 * first error, or broken when the connection failed.
 */
static void
run_pipeline(PGconn *conn, const char *key, const char *method,
			 const char *path, const char *body, const char *idem, Outcome *o)
{
	char		timeout[32];
	const char *auth_params[2];
	const char *req_params[4];
	int			step = 0;		/* 0 auth, 1 request, 2 sync */

	memset(o, 0, sizeof(*o));
	snprintf(timeout, sizeof(timeout), "%d", opt_statement_timeout);
	auth_params[0] = key;
	auth_params[1] = timeout;
	req_params[0] = method;
	req_params[1] = path;
	req_params[2] = body;
	req_params[3] = idem;

	if (!PQsendQueryPrepared(conn, "auth", 2, auth_params, NULL, NULL, 0) ||
		!PQsendQueryPrepared(conn, "request", 4, req_params, NULL, NULL, 0) ||
		!PQpipelineSync(conn))
	{
		o->broken = true;
		return;
	}
	while (step < 3)
	{
		PGresult   *res = PQgetResult(conn);

		if (res == NULL)
		{
			if (PQstatus(conn) != CONNECTION_OK)
			{
				o->broken = true;
				return;
			}
			/* end of one query's results */
			if (step < 2)
				step++;
			continue;
		}
		switch (PQresultStatus(res))
		{
			case PGRES_TUPLES_OK:
				if (step == 0 && PQntuples(res) == 1)
					o->restricted = (strcmp(PQgetvalue(res, 0, 2), "t") == 0);
				if (step == 1 && PQntuples(res) == 1 && PQnfields(res) == 2)
				{
					o->status = atoi(PQgetvalue(res, 0, 0));
					o->body = strdup(PQgetvalue(res, 0, 1));
				}
				break;
			case PGRES_PIPELINE_SYNC:
				step = 3;
				break;
			case PGRES_PIPELINE_ABORTED:
				break;
			case PGRES_FATAL_ERROR:
				note_error(o, res, step == 0);
				if (PQstatus(conn) != CONNECTION_OK)
				{
					PQclear(res);
					o->broken = true;
					return;
				}
				break;
			default:
				break;
		}
		PQclear(res);
	}
}

/* ---------------------------------------------------------------------
 * HTTP
 * ---------------------------------------------------------------------
 */

/* Value of a base64 digit, standard or URL-safe alphabet; -1 if none. */
static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/*
 * The API key of a request: "Bearer KEY", or "Basic base64(KEY:)" with the
 * key as user name.  Copied into out; false when there is none.
 */
static bool
request_key(struct MHD_Connection *connection, char *out, size_t size)
{
	const char *h = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
												MHD_HTTP_HEADER_AUTHORIZATION);
	size_t		n = 0;

	out[0] = '\0';
	if (h == NULL)
		return false;
	while (*h == ' ')
		h++;
	if (strncasecmp(h, "Bearer ", 7) == 0)
	{
		h += 7;
		while (*h == ' ')
			h++;
		while (h[n] != '\0' && h[n] != ' ' && n + 1 < size)
		{
			out[n] = h[n];
			n++;
		}
		out[n] = '\0';
	}
	else if (strncasecmp(h, "Basic ", 6) == 0)
	{
		unsigned int acc = 0;
		int			bits = 0;

		h += 6;
		while (*h == ' ')
			h++;
		for (; *h != '\0' && *h != '=' && *h != ' '; h++)
		{
			int			v = b64_value(*h);

			if (v < 0)
				return false;
			acc = (acc << 6) | (unsigned int) v;
			bits += 6;
			if (bits >= 8)
			{
				bits -= 8;
				if (n + 1 >= size)
					return false;
				out[n++] = (char) ((acc >> bits) & 0xff);
			}
		}
		out[n] = '\0';
		{
			char	   *colon = memchr(out, ':', n);

			if (colon != NULL)
				*colon = '\0';
		}
	}
	return out[0] != '\0';
}

/*
 * Could key be an API key: 1 to MAX_KEY_LEN letters, digits and '_'?
 * Anything else is answered 401 without asking the database.
 */
static bool
key_chars_ok(const char *key)
{
	size_t		n = 0;

	for (; key[n] != '\0'; n++)
	{
		char		c = key[n];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return n > 0 && n <= MAX_KEY_LEN;
}

/*
 * An Idempotency-Key header is at most 255 bytes of printable ASCII, as
 * Stripe requires, because it is echoed back in a response header.
 */
static bool
idempotency_key_ok(const char *key, size_t len)
{
	if (len > 255)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char) key[i] < 0x20 || (unsigned char) key[i] > 0x7e)
			return false;
	return true;
}

/* query arguments back into a form string, appended to the path */
typedef struct QueryArgs
{
	Buf		   *b;
	bool		nul;			/* a decoded name or value has a NUL (%00) */
} QueryArgs;

/*
 * MHD callback for each query argument: append it percent-encoded again
 * to the path in cls, "?" then "&"-separated.  A NUL in a decoded name or
 * value stops the walk and is flagged.
 */
static enum MHD_Result
add_query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			  size_t key_size, const char *value, size_t value_size)
{
	QueryArgs  *qa = cls;
	Buf		   *b = qa->b;
	const char *parts[2] = {key, value};
	int			i;

	(void) kind;
	if ((key != NULL && memchr(key, '\0', key_size) != NULL) ||
		(value != NULL && memchr(value, '\0', value_size) != NULL))
	{
		qa->nul = true;
		return MHD_NO;
	}
	buf_puts(b, b->data[b->len - 1] == '?' ? "" : "&");
	for (i = 0; i < 2; i++)
	{
		const char *s;

		if (i == 1)
			buf_puts(b, "=");
		for (s = parts[i]; s != NULL && *s != '\0'; s++)
		{
			unsigned char c = (unsigned char) *s;

			if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				(c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~')
				buf_append(b, s, 1);
			else
			{
				char		esc[4];

				snprintf(esc, sizeof(esc), "%%%02X", c);
				buf_append(b, esc, 3);
			}
		}
	}
	return MHD_YES;
}

/*
 * Is s UTF-8 with no NUL byte?  Lead bytes (not C0, C1 nor F5 and up)
 * and their continuation bytes are checked; longer overlong forms and
 * surrogates are not looked for.
 */
static bool
valid_utf8(const char *s, size_t len)
{
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = (unsigned char) s[i];
		int			n;

		if (c == 0)
			return false;
		if (c < 0x80)
		{
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0 && c >= 0xc2)
			n = 1;
		else if ((c & 0xf0) == 0xe0)
			n = 2;
		else if ((c & 0xf8) == 0xf0 && c <= 0xf4)
			n = 3;
		else
			return false;
		for (int k = 1; k <= n; k++)
			if (i + k >= len || ((unsigned char) s[i + k] & 0xc0) != 0x80)
				return false;
		i += n + 1;
	}
	return true;
}

#define SHUTDOWN_MESSAGE "The service is shutting down: this request was not run, or was canceled and rolled back. Please retry."

/*
 * The database part of a request, in a database worker thread: the
 * pipeline on this worker's connection, and the response it makes (its
 * status in *status).  It reads the request, never writes it: once the
 * drain time is up main() may have answered it already (see Request).
 */
static struct MHD_Response *
process(Request *req, int *status)
{
	PGconn	   *conn;
	Outcome		o;
	struct MHD_Response *resp;
	struct timespec now;
	double		waited;

#define ERROR_RESPONSE(st, ...) (*status = (st), make_error(req, (st), __VA_ARGS__))
	if (atomic_load(&stopping))
		return ERROR_RESPONSE(503, "api_error", NULL, SHUTDOWN_MESSAGE);
	clock_gettime(CLOCK_MONOTONIC, &now);
	waited = (double) (now.tv_sec - req->queued.tv_sec) * 1000.0 +
		(double) (now.tv_nsec - req->queued.tv_nsec) / 1e6;
	if (waited > opt_queue_timeout)
		return ERROR_RESPONSE(429, "invalid_request_error", "rate_limit",
							  "Too many requests hit the API too quickly: this one waited too long for the database. Please retry later.");

	conn = get_conn();
	if (conn == NULL)
		return ERROR_RESPONSE(503, "api_error", NULL,
							  "The service is temporarily unavailable (no database connection). Please retry later.");
	pthread_mutex_lock(&all_db_lock);
	thread_db->busy = true;
	pthread_mutex_unlock(&all_db_lock);
	run_pipeline(conn, req->key, req->full_method, req->full_path,
				 req->body_len > 0 ? req->body : "", req->idem, &o);
	pthread_mutex_lock(&all_db_lock);
	thread_db->busy = false;
	pthread_mutex_unlock(&all_db_lock);

	if (o.broken)
	{
		drop_conn(thread_db);
		resp = ERROR_RESPONSE(503, "api_error", NULL,
							  "The service is temporarily unavailable (the database connection was lost). Please retry later.");
	}
	else if (o.sqlstate[0] == '\0' && o.body != NULL)
	{
		*status = o.status;
		resp = make_response(req, o.body, req->idem, false);
	}
	else if (strcmp(o.sqlstate, "57014") == 0 && atomic_load(&stopping))
		/* canceled by main() when the drain time was up: rolled back */
		resp = ERROR_RESPONSE(503, "api_error", NULL, SHUTDOWN_MESSAGE);
	else if (o.error_in_auth && strcmp(o.sqlstate, "28000") == 0)
		resp = ERROR_RESPONSE(401, "invalid_request_error", NULL, o.message);
	else if (!o.error_in_auth && strcmp(o.sqlstate, "42501") == 0)
	{
		char		msg[256];

		snprintf(msg, sizeof(msg),
				 "The provided key '%s' does not have the required permissions for this endpoint.%s",
				 req->masked, o.restricted ? " Having the 'write' permission would allow this request to continue." : "");
		resp = ERROR_RESPONSE(403, "invalid_request_error", NULL, msg);
	}
	else if (strcmp(o.sqlstate, "57014") == 0)
		resp = ERROR_RESPONSE(500, "api_error", "request_timeout",
							  "The request took too long to complete and was canceled. Please retry later.");
	else if (strcmp(o.sqlstate, "40001") == 0 || strcmp(o.sqlstate, "40P01") == 0 ||
			 strcmp(o.sqlstate, "55P03") == 0)
		resp = ERROR_RESPONSE(409, "invalid_request_error", "lock_timeout",
							  "This object cannot be accessed right now because another API request or Stripe process is currently accessing it. Please retry.");
	else if (strncmp(o.sqlstate, "08", 2) == 0 || strncmp(o.sqlstate, "53", 2) == 0 ||
			 strncmp(o.sqlstate, "57P", 3) == 0)
	{
		drop_conn(thread_db);
		resp = ERROR_RESPONSE(503, "api_error", NULL,
							  "The service is temporarily unavailable. Please retry later.");
	}
	else
	{
		log_line("%s: database error SQLSTATE %s%s", req->id,
				 o.sqlstate[0] ? o.sqlstate : "(none)",
				 o.error_in_auth ? " authenticating (check the key role's grants to payment_records_gateway)" : "");
		resp = ERROR_RESPONSE(500, "api_error", NULL,
							  "An unexpected error occurred. Please retry later, or contact the administrator with the request id.");
	}
#undef ERROR_RESPONSE
	free(o.body);
	free(o.message);
	return resp;
}

/* Free a request and all it owns; the last holder of a ref calls it. */
static void
free_request(Request *req)
{
	if (req->response != NULL)
		MHD_destroy_response(req->response);
	free(req->body);
	free(req->key);
	free(req->full_method);
	free(req->full_path);
	free(req->idem);
	free(req);
}

/* off the pending list; under pending_lock */
static void
pending_unlink(Request *req)
{
	if (req->pprev != NULL)
		req->pprev->pnext = req->pnext;
	else if (pending_head == req)
		pending_head = req->pnext;
	else
		return;					/* not on it */
	if (req->pnext != NULL)
		req->pnext->pprev = req->pprev;
	req->pprev = req->pnext = NULL;
	pending_count--;
}

/*
 * A database worker thread: take queued requests one at a time, run them
 * with process(), and resume each connection with its response, unless
 * main() already answered it (abandoned).  Ends when workers_stop is set
 * and the queue is empty.
 */
static void *
worker_main(void *arg)
{
	(void) arg;
	for (;;)
	{
		Request    *req;
		struct MHD_Response *resp;
		int			status = 500;
		bool		last;

		pthread_mutex_lock(&queue_lock);
		while (queue_head == NULL && !workers_stop)
			pthread_cond_wait(&queue_cond, &queue_lock);
		if (queue_head == NULL)
		{
			pthread_mutex_unlock(&queue_lock);
			break;
		}
		req = queue_head;
		queue_head = req->next;
		if (queue_head == NULL)
			queue_tail = NULL;
		pthread_mutex_unlock(&queue_lock);

		resp = process(req, &status);
		pthread_mutex_lock(&pending_lock);
		if (!req->abandoned)
		{
			/* resume the connection with the response (on_request()) */
			pending_unlink(req);
			req->response = resp;
			req->response_status = status;
			resp = NULL;
			atomic_store(&req->state, RS_DONE);
			MHD_resume_connection(req->connection);
		}
		last = (--req->refs == 0);
		pthread_mutex_unlock(&pending_lock);
		if (resp != NULL)
			MHD_destroy_response(resp);
		if (last)
			free_request(req);
	}
	return NULL;
}

/*
 * A complete request, in an HTTP thread: what needs no database is
 * answered here; the rest is queued for a database worker and the
 * connection suspended until the worker resumes it.
 */
static enum MHD_Result
handle(struct MHD_Connection *connection, Request *req, const char *url,
	   const char *method)
{
	char		key[MAX_KEY_LEN + 2];
	const char *idem;
	Buf			path = {0};

	if (!request_key(connection, key, sizeof(key)))
		return respond_error(connection, req, 401, "invalid_request_error", NULL,
							 "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.");
	mask_key(req->masked, sizeof(req->masked), key);
	if (!key_chars_ok(key))
	{
		char		msg[80];

		snprintf(msg, sizeof(msg), "Invalid API Key provided: %s", req->masked);
		return respond_error(connection, req, 401, "invalid_request_error", NULL, msg);
	}
	/*
	 * The key is echoed in the response's Idempotency-Key header: printable
	 * ASCII only (as Stripe), so that no control character (CR, LF, VT,
	 * DEL, NUL, ...) or other byte goes back raw into a header.
	 */
	{
		size_t		idem_len = 0;

		if (MHD_lookup_connection_value_n(connection, MHD_HEADER_KIND, "Idempotency-Key",
										  strlen("Idempotency-Key"), &idem, &idem_len) != MHD_YES)
			idem = NULL;
		if (idem != NULL && !idempotency_key_ok(idem, idem_len))
			return respond_error(connection, req, 400, "invalid_request_error", NULL,
								 "Keys for idempotent requests can only be 255 characters long and may only contain printable ASCII characters.");
	}
	if (req->body_len > 0 && !valid_utf8(req->body, req->body_len))
		return respond_error(connection, req, 400, "invalid_request_error",
							 "invalid_characters", "Invalid request body: it must be UTF-8 form-encoded parameters.");
	if (req->path_nul)
		return respond_error(connection, req, 400, "invalid_request_error", "invalid_characters",
							 "Invalid request URL: it must not contain a NUL character (%00).");
	/*
	 * The percent-decoded path, with a '?' of it (%3F) encoded again: the
	 * database splits path and query string at the first '?', so a
	 * decoded one would turn path text into query parameters.
	 */
	buf_append(&path, "", 0);
	for (const char *c = url; *c != '\0'; c++)
	{
		if (*c == '?')
			buf_puts(&path, "%3F");
		else
			buf_append(&path, c, 1);
	}
	if (!valid_utf8(path.data, path.len))
	{
		free(path.data);
		return respond_error(connection, req, 400, "invalid_request_error",
							 "invalid_characters", "Invalid request URL: it must be UTF-8.");
	}
	buf_puts(&path, "?");
	{
		QueryArgs	qa = {&path, false};

		MHD_get_connection_values_n(connection, MHD_GET_ARGUMENT_KIND, add_query_arg, &qa);
		if (qa.nul)
		{
			free(path.data);
			return respond_error(connection, req, 400, "invalid_request_error", NULL,
								 "Invalid query string: it must not contain a NUL character (%00).");
		}
	}
	if (path.data[path.len - 1] == '?')
		path.data[--path.len] = '\0';
	if (!valid_utf8(path.data, path.len))
	{
		free(path.data);
		return respond_error(connection, req, 400, "invalid_request_error",
							 "invalid_characters", "Invalid query string: it must be UTF-8.");
	}

	req->full_path = path.data;
	req->key = strdup(key);
	req->full_method = strdup(method);
	req->idem = idem ? strdup(idem) : NULL;
	if (req->key == NULL || req->full_method == NULL || (idem != NULL && req->idem == NULL))
		return MHD_NO;
	req->connection = connection;
	clock_gettime(CLOCK_MONOTONIC, &req->queued);
	pthread_mutex_lock(&pending_lock);
	if (refuse_suspend)
	{
		/* main() is about to stop the daemon: no connection may be suspended */
		pthread_mutex_unlock(&pending_lock);
		return respond_error(connection, req, 503, "api_error", NULL, SHUTDOWN_MESSAGE);
	}
	req->refs++;				/* the worker's */
	req->pprev = NULL;
	req->pnext = pending_head;
	if (pending_head != NULL)
		pending_head->pprev = req;
	pending_head = req;
	pending_count++;
	atomic_store(&req->state, RS_QUEUED);
	MHD_suspend_connection(connection);
	pthread_mutex_unlock(&pending_lock);
	pthread_mutex_lock(&queue_lock);
	req->next = NULL;
	if (queue_tail != NULL)
		queue_tail->next = req;
	else
		queue_head = req;
	queue_tail = req;
	pthread_cond_signal(&queue_cond);
	pthread_mutex_unlock(&queue_lock);
	return MHD_YES;
}

/* The value of hex digit c in *v; false if c is none. */
static bool
hexdigit(char c, int *v)
{
	if (c >= '0' && c <= '9')
		*v = c - '0';
	else if (c >= 'a' && c <= 'f')
		*v = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		*v = c - 'A' + 10;
	else
		return false;
	return true;
}

/*
 * A new request.  uri is the request target as sent (NULL if none),
 * before libmicrohttpd splits off the query string at its first '?' and
 * percent-decodes the path in place, which would cut the path at a %00.
 * Here it is decoded as libmicrohttpd does (%XX with two hex digits, any
 * other '%' kept) to see a NUL, and for the log line.
 *
 * The logged path is the decoded path up to its first '?', whether raw
 * (where libmicrohttpd starts the query string) or decoded from %3F: so
 * no query string, however encoded, reaches the log.  Other characters
 * than printable ASCII are logged as '.'.
 */
static Request *
new_request(const char *uri)
{
	Request    *req = calloc(1, sizeof(Request));
	size_t		n = 0;
	bool		cut = false;

	if (req == NULL)
		return NULL;
	req->refs = 1;				/* the HTTP side's, until on_completed() */
	atomic_fetch_add(&inflight, 1);
	clock_gettime(CLOCK_MONOTONIC, &req->start);
	new_request_id(req->id);
	for (const char *c = uri; c != NULL && *c != '\0' && *c != '?'; c++)
	{
		int			hi,
					lo;
		unsigned char b = (unsigned char) *c;

		if (*c == '%' && hexdigit(c[1], &hi) && hexdigit(c[2], &lo))
		{
			b = (unsigned char) (hi * 16 + lo);
			c += 2;
		}
		if (b == '\0')
			req->path_nul = true;
		if (b == '?')
			cut = true;
		if (!cut && n + 1 < sizeof(req->path))
			req->path[n++] = (b > 32 && b < 127) ? (char) b : '.';
	}
	req->path[n] = '\0';
	req->uri = uri;
	req->uri_len = uri != NULL ? strlen(uri) : 0;
	return req;
}

/*
 * A NUL byte sent raw in the request target: libmicrohttpd 0.9.75 keeps
 * the request line as C strings, so the target ends at the NUL, and the
 * rest is silently dropped.  It splits the line "METHOD TARGET VERSION"
 * in place, in one buffer, so the version string starts right after the
 * target and its separating space: a target shorter than that distance
 * had a NUL in it.  (Checked only where that layout holds.)
 */
static bool
raw_nul_in_target(const Request *req, const char *url, const char *version)
{
	uintptr_t	u = (uintptr_t) url;
	uintptr_t	v = (uintptr_t) version;

	if (req->uri == NULL || url != req->uri || version == NULL || version[0] == '\0')
		return false;
	if (v <= u || v - u > (uintptr_t) opt_max_header)
		return false;
	return v - u - 1 > req->uri_len;
}

/*
 * MHD's URI log callback, the first call for a request: make the Request
 * that on_request() gets as *con_cls.
 */
static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *connection)
{
	(void) cls;
	(void) connection;
	return new_request(uri);
}

typedef struct HeaderCounts
{
	int			content_length;
	int			transfer_encoding;
	bool		chunked;		/* the (first) Transfer-Encoding is "chunked" */
	int			authorization;
	int			idempotency_key;
} HeaderCounts;

/* MHD callback: count the headers whose repetition would be ambiguous. */
static enum MHD_Result
count_header(void *cls, enum MHD_ValueKind kind, const char *key,
			 size_t key_size, const char *value, size_t value_size)
{
	HeaderCounts *hc = cls;

	if (key == NULL)
		return MHD_YES;
	(void) kind;
	(void) key_size;
	(void) value_size;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		hc->content_length++;
	else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
	{
		if (hc->transfer_encoding++ == 0)
			hc->chunked = (value != NULL && strcasecmp(value, "chunked") == 0);
	}
	else if (strcasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION) == 0)
		hc->authorization++;
	else if (strcasecmp(key, "Idempotency-Key") == 0)
		hc->idempotency_key++;
	return MHD_YES;
}

/*
 * MHD's request handler, called for the headers, for each piece of body,
 * at the end of the body, and again when a worker resumes the connection.
 * Refuses ambiguous framing and duplicate credentials, collects the body
 * (413 past --max-body), then hands the complete request to handle().
 */
static enum MHD_Result
on_request(void *cls, struct MHD_Connection *connection, const char *url,
		   const char *method, const char *version, const char *upload_data,
		   size_t *upload_data_size, void **con_cls)
{
	Request    *req = *con_cls;

	(void) cls;
	if (req != NULL && atomic_load(&req->state) == RS_DONE)
	{
		/* resumed by the worker: send what it made */
		struct MHD_Response *resp = req->response;

		req->response = NULL;
		atomic_store(&req->state, RS_NEW);
		return queue_made(connection, req, req->response_status, resp);
	}
	if (req == NULL)
	{
		/* on_uri() could not allocate it */
		req = new_request(NULL);
		if (req == NULL)
			return MHD_NO;
		*con_cls = req;
	}
	if (!req->started)
	{
		const char *cl;
		HeaderCounts hc = {0};

		req->started = true;
		copy_printable(req->method, sizeof(req->method), method);

		/*
		 * Framing and credentials must be unambiguous: libmicrohttpd takes
		 * the first of two Content-Length headers, lets chunked win over a
		 * Content-Length, and reads the body of any other Transfer-Encoding
		 * until the connection closes; a front proxy may do otherwise, and
		 * what one takes for the body the other takes for the next request.
		 */
		MHD_get_connection_values_n(connection, MHD_HEADER_KIND, count_header, &hc);
		if (hc.content_length > 1)
			return refuse_and_close(connection, req, "Invalid request: more than one Content-Length header.");
		if (hc.transfer_encoding > 1 || (hc.transfer_encoding == 1 && !hc.chunked))
			return refuse_and_close(connection, req, "Invalid request: the only Transfer-Encoding accepted is a single `chunked`.");
		if (hc.transfer_encoding > 0 && hc.content_length > 0)
			return refuse_and_close(connection, req, "Invalid request: Content-Length and Transfer-Encoding must not both be sent.");
		if (hc.authorization > 1)
			return refuse_and_close(connection, req, "Invalid request: more than one Authorization header.");
		if (hc.idempotency_key > 1)
			return refuse_and_close(connection, req, "Invalid request: more than one Idempotency-Key header.");
		if (req->path_nul || raw_nul_in_target(req, url, version))
			return refuse_and_close(connection, req, "Invalid request URL: it must not contain a NUL character (%00).");

		cl = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
										 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && strtoll(cl, NULL, 10) > opt_max_body)
		{
			/* answered before the body is read; MHD then closes */
			req->too_large = true;
			goto too_large;
		}
		return MHD_YES;
	}
	if (req->answered)
	{
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0)
	{
		if (!req->too_large && req->body_len + *upload_data_size > (size_t) opt_max_body)
			req->too_large = true;
		if (!req->too_large)
		{
			if (req->body_len + *upload_data_size + 1 > req->body_cap)
			{
				size_t		cap = req->body_cap ? req->body_cap : 1024;

				while (cap < req->body_len + *upload_data_size + 1)
					cap *= 2;
				req->body = realloc(req->body, cap);
				if (req->body == NULL)
					return MHD_NO;
				req->body_cap = cap;
			}
			memcpy(req->body + req->body_len, upload_data, *upload_data_size);
			req->body_len += *upload_data_size;
			req->body[req->body_len] = '\0';
		}
		/*
		 * Past the limit the rest is read and dropped: MHD takes no
		 * response in the middle of an upload.  The answer comes at the
		 * end of the body (or the idle timeout closes the connection).
		 */
		*upload_data_size = 0;
		if (req->too_large && req->body != NULL)
		{
			free(req->body);
			req->body = NULL;
			req->body_len = req->body_cap = 0;
		}
		return MHD_YES;
	}
	if (req->too_large)
		goto too_large;
	return handle(connection, req, url, method);

too_large:
	{
		char		msg[160];

		snprintf(msg, sizeof(msg),
				 "The request body is too large: at most %ld bytes are accepted.",
				 opt_max_body);
		free(req->body);
		req->body = NULL;
		req->body_len = req->body_cap = 0;
		return respond_error(connection, req, 413, "invalid_request_error", NULL, msg);
	}
}

/*
 * MHD's completion callback: log the request's line and drop the HTTP
 * side's reference to it.
 */
static void
on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	Request    *req = *con_cls;
	struct timespec end;
	double		ms;
	bool		last;

	(void) cls;
	(void) connection;
	if (req == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &end);
	ms = (double) (end.tv_sec - req->start.tv_sec) * 1000.0 +
		(double) (end.tv_nsec - req->start.tv_nsec) / 1e6;
	if (req->answered)
		log_line("%s %s %s %d %.3fms%s", req->id, req->method, req->path,
				 req->status, ms,
				 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (client gone)");
	else if (!req->started)
		log_line("%s - %s - %.3fms (refused by the HTTP parser)", req->id,
				 req->path, ms);
	else
		log_line("%s %s %s - %.3fms (closed before a response: %s)", req->id,
				 req->method, req->path, ms,
				 toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "timeout" :
				 toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT ? "client closed" :
				 toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN ? "shutdown" : "error");
	*con_cls = NULL;
	pthread_mutex_lock(&pending_lock);
	pending_unlink(req);
	last = (--req->refs == 0);
	pthread_mutex_unlock(&pending_lock);
	if (last)
		free_request(req);
	atomic_fetch_sub(&inflight, 1);
}

/*
 * libmicrohttpd's own messages, to the log, but for those clients cause
 * (closed or failed connections, bad requests): the request's own line
 * tells of them.
 */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char		buf[512];
	size_t		n;

	(void) cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	/* what clients cause is in the request's own line, or nowhere */
	if (strstr(buf, "closed by remote side") != NULL ||
		strstr(buf, "Error processing request") != NULL ||
		strstr(buf, "Failed to receive data") != NULL ||
		strstr(buf, "Failed to send data") != NULL)
		return;
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	log_line("http: %s", buf);
}

/* ---------------------------------------------------------------------
 * start-up
 * ---------------------------------------------------------------------
 */

/* The --help text. */
static void
usage(FILE *f)
{
	fprintf(f,
			"Usage: payment_records_gateway [options]\n"
			"Serves Stripe's Payment Records paths (/v1/payment_records..., /v1/payment_attempt_records...)\n"
			"over HTTP, one payment_records.http_request() call per request.\n\n"
			"  --listen ADDR            IPv4 or IPv6 address (PR_GATEWAY_LISTEN, default 127.0.0.1)\n"
			"  --port N                 TCP port (PR_GATEWAY_PORT, default 8787)\n"
			"  --conninfo STR           libpq connection string of the gateway's login role\n"
			"                           (PR_GATEWAY_CONNINFO; PG* variables apply too)\n"
			"  --pool N                 database worker threads, one connection each\n"
			"                           (PR_GATEWAY_POOL, default 4)\n"
			"  --http-threads N         threads serving HTTP (PR_GATEWAY_HTTP_THREADS, default 2)\n"
			"  --queue-timeout MS       a request waiting longer for a database worker is\n"
			"                           answered 429 (PR_GATEWAY_QUEUE_TIMEOUT, default 5000)\n"
			"  --max-body BYTES         largest request body (PR_GATEWAY_MAX_BODY, default 262144)\n"
			"  --max-header BYTES       memory per connection for the request line and headers\n"
			"                           (PR_GATEWAY_MAX_HEADER, default 16384)\n"
			"  --max-connections N      open connections at most (PR_GATEWAY_MAX_CONNECTIONS, default 1000)\n"
			"  --timeout SEC            idle connection timeout (PR_GATEWAY_TIMEOUT, default 30)\n"
			"  --statement-timeout MS   per-request statement_timeout (PR_GATEWAY_STATEMENT_TIMEOUT, default 10000)\n"
			"  --drain SEC              on SIGTERM, time to finish in-flight requests (PR_GATEWAY_DRAIN, default 30)\n"
			"  --help\n");
}

/* v as a long between min and max; otherwise exit(2) naming the option. */
static long
parse_long(const char *name, const char *v, long min, long max)
{
	char	   *end;
	long		n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || end == v || n < min || n > max)
	{
		fprintf(stderr, "payment_records_gateway: invalid %s: %s\n", name, v);
		exit(2);
	}
	return n;
}

/*
 * Set option name (without "--") from v, from a flag or an environment
 * variable; an unknown one prints usage and exits 2.
 */
static void
set_option(const char *name, const char *v)
{
	if (strcmp(name, "listen") == 0)
		opt_listen = v;
	else if (strcmp(name, "port") == 0)
		opt_port = (int) parse_long(name, v, 0, 65535);
	else if (strcmp(name, "conninfo") == 0)
		opt_conninfo = v;
	else if (strcmp(name, "pool") == 0)
		opt_pool = (int) parse_long(name, v, 1, 256);
	else if (strcmp(name, "max-body") == 0)
		opt_max_body = parse_long(name, v, 1024, 64L * 1024 * 1024);
	else if (strcmp(name, "max-header") == 0)
		opt_max_header = parse_long(name, v, 4096, 1024L * 1024);
	else if (strcmp(name, "max-connections") == 0)
		opt_max_connections = (int) parse_long(name, v, 1, 100000);
	else if (strcmp(name, "timeout") == 0)
		opt_timeout = (int) parse_long(name, v, 1, 3600);
	else if (strcmp(name, "statement-timeout") == 0)
		opt_statement_timeout = (int) parse_long(name, v, 1, INT_MAX);
	else if (strcmp(name, "http-threads") == 0)
		opt_http_threads = (int) parse_long(name, v, 1, 64);
	else if (strcmp(name, "queue-timeout") == 0)
		opt_queue_timeout = (int) parse_long(name, v, 1, INT_MAX);
	else if (strcmp(name, "drain") == 0)
		opt_drain = (int) parse_long(name, v, 0, 3600);
	else
	{
		fprintf(stderr, "payment_records_gateway: unknown option --%s\n", name);
		usage(stderr);
		exit(2);
	}
}

/*
 * The drain time is up (main(), after SIGTERM): libmicrohttpd must not be
 * stopped with a suspended connection (it aborts), so every request still
 * waiting for a database worker or running in the database is answered.
 * Those queued are answered 503 without running; those in the database
 * are canceled (PQcancel), rolled back and answered 503 by their worker,
 * or with their own response if it comes first; a request whose worker
 * still has no answer 2 s later (a database that does not answer even a
 * cancel) is answered 503 here, its outcome unknown.  Then the responses
 * get up to 1 s to be sent.
 */
static void
stop_pending(void)
{
	int			n;
	int			waited;
	char		err[256];
	DbConn	   *db;

	/* from now on a new request (keep-alive) is answered 503 at once */
	pthread_mutex_lock(&pending_lock);
	refuse_suspend = true;
	n = pending_count;
	pthread_mutex_unlock(&pending_lock);
	if (n == 0)
		return;
	log_line("drain time is up: canceling %d request(s) waiting for or in the database (answered 503)", n);
	atomic_store(&stopping, true);
	pthread_mutex_lock(&queue_lock);
	pthread_cond_broadcast(&queue_cond);
	pthread_mutex_unlock(&queue_lock);
	pthread_mutex_lock(&all_db_lock);
	for (db = all_db; db != NULL; db = db->next)
		if (db->busy && db->cancel != NULL && !PQcancel(db->cancel, err, sizeof(err)))
			log_line("cancel request failed: %s", strtok(err, "\n") ?: "");
	pthread_mutex_unlock(&all_db_lock);
	for (waited = 0; waited < 20; waited++)
	{
		pthread_mutex_lock(&pending_lock);
		n = pending_count;
		pthread_mutex_unlock(&pending_lock);
		if (n == 0)
			break;
		usleep(100000);
	}

	pthread_mutex_lock(&pending_lock);
	n = 0;
	while (pending_head != NULL)
	{
		Request    *req = pending_head;

		pending_unlink(req);
		req->abandoned = true;
		req->response = make_error(req, 503, "api_error", NULL,
								   "The service is shutting down and the database did not answer this request in time: its outcome is unknown. Please retry it with the same Idempotency-Key.");
		req->response_status = 503;
		atomic_store(&req->state, RS_DONE);
		MHD_resume_connection(req->connection);
		n++;
	}
	pthread_mutex_unlock(&pending_lock);
	if (n > 0)
		log_line("%d request(s) still in the database answered 503, outcome unknown", n);
	for (waited = 0; atomic_load(&inflight) > 0 && waited < 10; waited++)
		usleep(100000);
}

/*
 * Read settings (environment, then flags), start the database workers and
 * the HTTP daemon, then wait for SIGTERM or SIGINT and drain: no new
 * connections, --drain seconds for in-flight requests, stop_pending().
 */
int
main(int argc, char **argv)
{
	static const char *envs[][2] = {
		{"PR_GATEWAY_LISTEN", "listen"}, {"PR_GATEWAY_PORT", "port"},
		{"PR_GATEWAY_CONNINFO", "conninfo"}, {"PR_GATEWAY_POOL", "pool"},
		{"PR_GATEWAY_MAX_BODY", "max-body"}, {"PR_GATEWAY_MAX_HEADER", "max-header"},
		{"PR_GATEWAY_MAX_CONNECTIONS", "max-connections"},
		{"PR_GATEWAY_TIMEOUT", "timeout"},
		{"PR_GATEWAY_STATEMENT_TIMEOUT", "statement-timeout"},
		{"PR_GATEWAY_DRAIN", "drain"},
		{"PR_GATEWAY_HTTP_THREADS", "http-threads"},
		{"PR_GATEWAY_QUEUE_TIMEOUT", "queue-timeout"},
	};
	struct sockaddr_storage addr;
	struct MHD_Daemon *daemon;
	sigset_t	sigs;
	int			sig = 0;
	size_t		i;
	int			waited;
	DbConn	   *db;
	pthread_t  *workers;

	for (i = 0; i < sizeof(envs) / sizeof(envs[0]); i++)
	{
		const char *v = getenv(envs[i][0]);

		if (v != NULL && v[0] != '\0')
			set_option(envs[i][1], v);
	}
	for (i = 1; i < (size_t) argc; i++)
	{
		const char *a = argv[i];

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
		{
			usage(stdout);
			return 0;
		}
		if (strncmp(a, "--", 2) != 0)
		{
			usage(stderr);
			return 2;
		}
		a += 2;
		if (strchr(a, '=') != NULL)
		{
			char	   *name = strndup(a, (size_t) (strchr(a, '=') - a));

			set_option(name, strchr(a, '=') + 1);
		}
		else if (i + 1 < (size_t) argc)
			set_option(a, argv[++i]);
		else
		{
			fprintf(stderr, "payment_records_gateway: --%s needs a value\n", a);
			return 2;
		}
	}

	memset(&addr, 0, sizeof(addr));
	if (strchr(opt_listen, ':') != NULL)
	{
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *) &addr;

		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t) opt_port);
		if (inet_pton(AF_INET6, opt_listen, &a6->sin6_addr) != 1)
		{
			fprintf(stderr, "payment_records_gateway: invalid listen address %s\n", opt_listen);
			return 2;
		}
	}
	else
	{
		struct sockaddr_in *a4 = (struct sockaddr_in *) &addr;

		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t) opt_port);
		if (inet_pton(AF_INET, opt_listen, &a4->sin_addr) != 1)
		{
			fprintf(stderr, "payment_records_gateway: invalid listen address %s\n", opt_listen);
			return 2;
		}
	}

	/* room for --max-connections sockets (the soft limit is often 1024) */
	{
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
		{
			rl.rlim_cur = rl.rlim_max;
			(void) setrlimit(RLIMIT_NOFILE, &rl);
		}
	}

	/* signals are taken by sigwait() below, in this thread only */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	workers = calloc((size_t) opt_pool, sizeof(pthread_t));
	if (workers == NULL)
		return 1;
	for (i = 0; i < (size_t) opt_pool; i++)
	{
		if (pthread_create(&workers[i], NULL, worker_main, NULL) != 0)
		{
			fprintf(stderr, "payment_records_gateway: cannot start a worker thread\n");
			return 1;
		}
	}

	daemon = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC |
							  MHD_ALLOW_SUSPEND_RESUME |
							  MHD_USE_ERROR_LOG |
							  (strchr(opt_listen, ':') != NULL ? MHD_USE_IPv6 : 0),
							  (uint16_t) opt_port, NULL, NULL,
							  on_request, NULL,
							  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
							  MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
							  MHD_OPTION_THREAD_POOL_SIZE, (unsigned int) opt_http_threads,
							  MHD_OPTION_CONNECTION_LIMIT, (unsigned int) opt_max_connections,
							  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) opt_timeout,
							  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) opt_max_header,
							  MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
							  MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
							  MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int) 1024,
							  MHD_OPTION_END);
	if (daemon == NULL)
	{
		fprintf(stderr, "payment_records_gateway: cannot listen on %s port %d\n",
				opt_listen, opt_port);
		return 1;
	}
	{
		const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);

		if (info != NULL && info->port != 0)
			opt_port = info->port;
	}
	log_line("payment_records_gateway listening on %s port %d (pool %d, %d HTTP threads, API version %s)",
			 opt_listen, opt_port, opt_pool, opt_http_threads, API_VERSION);

	while (sigwait(&sigs, &sig) != 0)
		;
	log_line("signal %d: no new connections; finishing %d in-flight request(s)",
			 sig, atomic_load(&inflight));
	atomic_store(&draining, true);
	{
		MHD_socket ls = MHD_quiesce_daemon(daemon);

		if (ls != MHD_INVALID_SOCKET)
			close(ls);
	}
	for (waited = 0; atomic_load(&inflight) > 0 && waited < opt_drain * 10; waited++)
		usleep(100000);
	stop_pending();
	MHD_stop_daemon(daemon);
	pthread_mutex_lock(&queue_lock);
	workers_stop = true;
	pthread_cond_broadcast(&queue_cond);
	pthread_mutex_unlock(&queue_lock);
	{
		/* a worker still waiting for the database does not hold up the exit */
		struct timespec deadline;
		int			stuck = 0;

		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += 2;
		for (i = 0; i < (size_t) opt_pool; i++)
			if (pthread_timedjoin_np(workers[i], NULL, &deadline) != 0)
				stuck++;
		if (stuck > 0)
			log_line("%d database worker(s) still waiting for the database: exiting without them", stuck);
		else
		{
			free(workers);
			for (db = all_db; db != NULL; db = db->next)
				drop_conn(db);
		}
	}
	log_line("stopped");
	return 0;
}
