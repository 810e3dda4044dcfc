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
	int			status;
	char		method[16];
	char		path[128];		/* for the log line only */
	/* for the database worker */
	_Atomic ReqState state;
	struct MHD_Connection *connection;
	char	   *key;
	char		masked[40];
	char	   *full_method;
	char	   *full_path;		/* path and query string */
	char	   *idem;
	struct MHD_Response *response;
	struct Request *next;
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

/* ---------------------------------------------------------------------
 * small helpers
 * ---------------------------------------------------------------------
 */
static void log_line(const char *fmt,...) __attribute__((format(printf, 1, 2)));
static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

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
		dst[i] = (src[i] > 32 && src[i] < 127) ? src[i] : '?';
	dst[i] = '\0';
}

/* a growable string */
typedef struct Buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Buf;

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
static struct MHD_Response *
make_response(Request *req, int status, const char *body,
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
	req->status = status;
	return resp;
}

static struct MHD_Response *
make_error(Request *req, int status, const char *type, const char *code,
		   const char *message)
{
	char	   *body = error_body(type, code, message);
	struct MHD_Response *resp = make_response(req, status, body, NULL,
											  status == 503 || status == 409 ||
											  status == 429);

	free(body);
	return resp;
}

/* queue a response made in this (HTTP) thread */
static enum MHD_Result
queue_made(struct MHD_Connection *connection, Request *req,
		   struct MHD_Response *resp)
{
	enum MHD_Result ret;

	if (resp == NULL)
		return MHD_NO;
	ret = MHD_queue_response(connection, (unsigned int) req->status, resp);
	MHD_destroy_response(resp);
	req->answered = true;
	return ret;
}

static enum MHD_Result
respond_error(struct MHD_Connection *connection, Request *req, int status,
			  const char *type, const char *code, const char *message)
{
	return queue_made(connection, req, make_error(req, status, type, code, message));
}

/* ---------------------------------------------------------------------
 * the database
 * ---------------------------------------------------------------------
 */
static void
drop_conn(DbConn *db)
{
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

/* query arguments back into a form string, appended to the path */
static enum MHD_Result
add_query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			  const char *value)
{
	Buf		   *b = cls;
	const char *parts[2] = {key, value};
	int			i;

	(void) kind;
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

/*
 * The database part of a request, in a database worker thread: the
 * pipeline on this worker's connection, and the response it makes.
 */
static struct MHD_Response *
process(Request *req)
{
	PGconn	   *conn;
	Outcome		o;
	struct MHD_Response *resp;
	struct timespec now;
	double		waited;

	clock_gettime(CLOCK_MONOTONIC, &now);
	waited = (double) (now.tv_sec - req->queued.tv_sec) * 1000.0 +
		(double) (now.tv_nsec - req->queued.tv_nsec) / 1e6;
	if (waited > opt_queue_timeout)
		return make_error(req, 429, "invalid_request_error", "rate_limit",
						  "Too many requests hit the API too quickly: this one waited too long for the database. Please retry later.");

	conn = get_conn();
	if (conn == NULL)
		return make_error(req, 503, "api_error", NULL,
						  "The service is temporarily unavailable (no database connection). Please retry later.");
	run_pipeline(conn, req->key, req->full_method, req->full_path,
				 req->body_len > 0 ? req->body : "", req->idem, &o);

	if (o.broken)
	{
		drop_conn(thread_db);
		resp = make_error(req, 503, "api_error", NULL,
						  "The service is temporarily unavailable (the database connection was lost). Please retry later.");
	}
	else if (o.sqlstate[0] == '\0' && o.body != NULL)
		resp = make_response(req, o.status, o.body, req->idem, false);
	else if (o.error_in_auth && strcmp(o.sqlstate, "28000") == 0)
		resp = make_error(req, 401, "invalid_request_error", NULL, o.message);
	else if (!o.error_in_auth && strcmp(o.sqlstate, "42501") == 0)
	{
		char		msg[256];

		snprintf(msg, sizeof(msg),
				 "The provided key '%s' does not have the required permissions for this endpoint.%s",
				 req->masked, o.restricted ? " Having the 'write' permission would allow this request to continue." : "");
		resp = make_error(req, 403, "invalid_request_error", NULL, msg);
	}
	else if (strcmp(o.sqlstate, "57014") == 0)
		resp = make_error(req, 500, "api_error", "request_timeout",
						  "The request took too long to complete and was canceled. Please retry later.");
	else if (strcmp(o.sqlstate, "40001") == 0 || strcmp(o.sqlstate, "40P01") == 0 ||
			 strcmp(o.sqlstate, "55P03") == 0)
		resp = make_error(req, 409, "invalid_request_error", "lock_timeout",
						  "This object cannot be accessed right now because another API request or Stripe process is currently accessing it. Please retry.");
	else if (strncmp(o.sqlstate, "08", 2) == 0 || strncmp(o.sqlstate, "53", 2) == 0 ||
			 strncmp(o.sqlstate, "57P", 3) == 0)
	{
		drop_conn(thread_db);
		resp = make_error(req, 503, "api_error", NULL,
						  "The service is temporarily unavailable. Please retry later.");
	}
	else
	{
		log_line("%s: database error SQLSTATE %s%s", req->id,
				 o.sqlstate[0] ? o.sqlstate : "(none)",
				 o.error_in_auth ? " authenticating (check the key role's grants to payment_records_gateway)" : "");
		resp = make_error(req, 500, "api_error", NULL,
						  "An unexpected error occurred. Please retry later, or contact the administrator with the request id.");
	}
	free(o.body);
	free(o.message);
	return resp;
}

static void *
worker_main(void *arg)
{
	(void) arg;
	for (;;)
	{
		Request    *req;

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

		req->response = process(req);
		atomic_store(&req->state, RS_DONE);
		MHD_resume_connection(req->connection);
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
	idem = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Idempotency-Key");
	if (idem != NULL && (strlen(idem) > 255 || !valid_utf8(idem, strlen(idem))))
		return respond_error(connection, req, 400, "invalid_request_error", NULL,
							 "Keys for idempotent requests can only be 255 characters long and must be valid UTF-8.");
	if (req->body_len > 0 && !valid_utf8(req->body, req->body_len))
		return respond_error(connection, req, 400, "invalid_request_error",
							 "invalid_characters", "Invalid request body: it must be UTF-8 form-encoded parameters.");
	buf_puts(&path, url);
	if (!valid_utf8(path.data, path.len))
	{
		free(path.data);
		return respond_error(connection, req, 400, "invalid_request_error",
							 "invalid_characters", "Invalid request URL: it must be UTF-8.");
	}
	buf_puts(&path, "?");
	MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, add_query_arg, &path);
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
	atomic_store(&req->state, RS_QUEUED);
	MHD_suspend_connection(connection);
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

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *connection, const char *url,
		   const char *method, const char *version, const char *upload_data,
		   size_t *upload_data_size, void **con_cls)
{
	Request    *req = *con_cls;

	(void) cls;
	(void) version;
	if (req != NULL && atomic_load(&req->state) == RS_DONE)
	{
		/* resumed by the worker: send what it made */
		struct MHD_Response *resp = req->response;

		req->response = NULL;
		atomic_store(&req->state, RS_NEW);
		return queue_made(connection, req, resp);
	}
	if (req == NULL)
	{
		const char *cl;

		req = calloc(1, sizeof(Request));
		if (req == NULL)
			return MHD_NO;
		*con_cls = req;
		atomic_fetch_add(&inflight, 1);
		clock_gettime(CLOCK_MONOTONIC, &req->start);
		new_request_id(req->id);
		copy_printable(req->method, sizeof(req->method), method);
		copy_printable(req->path, sizeof(req->path), url);

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

static void
on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	Request    *req = *con_cls;
	struct timespec end;
	double		ms;

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
	else
		log_line("%s %s %s - %.3fms (closed before a response: %s)", req->id,
				 req->method, req->path, ms,
				 toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "timeout" :
				 toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT ? "client closed" :
				 toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN ? "shutdown" : "error");
	if (req->response != NULL)
		MHD_destroy_response(req->response);
	free(req->body);
	free(req->key);
	free(req->full_method);
	free(req->full_path);
	free(req->idem);
	free(req);
	*con_cls = NULL;
	atomic_fetch_sub(&inflight, 1);
}

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
	MHD_stop_daemon(daemon);
	pthread_mutex_lock(&queue_lock);
	workers_stop = true;
	pthread_cond_broadcast(&queue_cond);
	pthread_mutex_unlock(&queue_lock);
	for (i = 0; i < (size_t) opt_pool; i++)
		pthread_join(workers[i], NULL);
	free(workers);
	pthread_mutex_lock(&all_db_lock);
	for (db = all_db; db != NULL; db = db->next)
		drop_conn(db);
	pthread_mutex_unlock(&all_db_lock);
	log_line("stopped");
	return 0;
}
