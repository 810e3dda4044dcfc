# payment_records -- PGXS build
#
# make && make install && make installcheck (regress, isolation, TAP).
# Warnings become errors only when asked: make PG_CFLAGS=-Werror (CI does).

EXTENSION = payment_records
EXTVERSION = $(shell sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" $(EXTENSION).control)

MODULE_big = payment_records
# src/, in dependency order, top down, without loops (endpoints use the
# layers below them; the triggers use only the data layer and the pure
# helpers for limits, currencies, ids and names; the data layer uses only
# the base):
#  entry      pr_module.c         _PG_init: defines every setting
#  endpoints  pr_api_payment.c    report_payment, retrieve_payment_record
#             pr_api_attempt.c    new attempts, outcomes, informational updates
#             pr_api_refund.c     report_refund
#             pr_api_list.c       retrieve/list of records and attempts
#             pr_api_keys.c       the gateway's API keys
#             pr_request.c        request(): Stripe's HTTP routes onto the functions
#             pr_api.c            argument handling and the write bracket they share
#  rules      pr_idempotency.c    idempotency keys: lock, hash, replay
#             pr_events.c         change events: what to emit, NOTIFY
#  pure       pr_params.c pr_schemas.c  parameter schemas and the rules they share
#             pr_form.c           form-encoded bodies to jsonb
#             pr_build.c pr_json.c  response objects, the one jsonb builder
#             pr_errors.c         Stripe-shaped errors
#             pr_currency.c pr_ids.c pr_status.c pr_endpoints.c pr_time.h
#                                 currencies, ids, attempt status, endpoint and
#                                 event names, unix time
#  triggers   pr_triggers.c       constraint triggers: the invariants
#  data       pr_store.h          the data layer's interface
#             pr_read.c           SQL reads: a record, an attempt, list pages
#             pr_write.c          writes of records, attempts, refunds
#             pr_scan.c           record lock and chain reads by index
#             pr_idem_rows.c      idempotency key rows
#             pr_event_row.c      event rows
#             pr_key_rows.c       the gateway's API key rows
#             pr_spi.c            the SPI bracket and statement runner
#             pr_insert.c         inserts without SQL (as the executor does)
#             pr_catalog.c        the extension's objects by OID; layout check
#             pr_layout.c         the tables' columns, defined once
#             pr_locks.c          transaction locks on idempotency keys
#  base       pr_shard.c          a sharded node's shard in its ids and serial keys
#             pr_settings.c pr_mode.c pr_compat.h
#                                 settings' variables, live/test mode,
#                                 PostgreSQL version differences
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
PG_CPPFLAGS = -I$(srcdir)/src -DPAYMENT_RECORDS_VERSION='"$(EXTVERSION)"'

DATA = $(sort $(wildcard sql/$(EXTENSION)--*.sql))
# the router of a sharded deployment, a second extension (PL/Proxy)
DATA += sql/payment_records_router.control sql/payment_records_router--1.1.sql

# pg_regress: sql/<name>.sql -> expected/<name>.out
REGRESS = $(sort $(notdir $(basename $(filter-out sql/$(EXTENSION)--% sql/payment_records_router--%,$(wildcard sql/*.sql)))))
REGRESS_OPTS = --inputdir=. --outputdir=output_regress

# isolationtester: test/specs/<name>.spec -> test/expected/<name>.out
ISOLATION = $(sort $(notdir $(basename $(wildcard test/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test --outputdir=output_iso

# TAP: test/t/*.pl (PROVE_FLAGS is set below the include: Makefile.global
# resets it)
TAP_TESTS = 1
PROVE_TESTS = $(sort $(wildcard test/t/*.pl))

EXTRA_CLEAN = output_regress output_iso

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

PROVE_FLAGS = -I $(srcdir)/test/perl

# make dist: payment_records-$(EXTVERSION).zip of the committed tree (HEAD),
# every file under the directory payment_records-$(EXTVERSION)/, for PGXN
DISTNAME = $(EXTENSION)-$(EXTVERSION)
.PHONY: dist
dist:
	git -C $(srcdir) archive --format=zip --prefix=$(DISTNAME)/ -o $(abspath $(DISTNAME).zip) HEAD
# The HTTP gateway (src/gateway/, issue 14): a program of its own, built
# beside the module and installed to $(bindir).  PGXS's PROGRAM would share
# OBJS with MODULE_big, so it has explicit rules.  Needs libmicrohttpd-dev
# and libpq-dev.
GATEWAY = src/gateway/payment_records_gateway
GATEWAY_OBJS = src/gateway/gateway.o

all: $(GATEWAY)

src/gateway/%.o: src/gateway/%.c
	$(CC) $(CFLAGS) -std=gnu11 -Wall -Wextra -Wno-unused-parameter -I$(shell $(PG_CONFIG) --includedir) -c -o $@ $<

$(GATEWAY): $(GATEWAY_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS_EX) -o $@ $(GATEWAY_OBJS) -L$(shell $(PG_CONFIG) --libdir) -lpq -lmicrohttpd -lpthread

install: install-gateway
install-gateway: $(GATEWAY)
	$(MKDIR_P) '$(DESTDIR)$(bindir)'
	$(INSTALL_PROGRAM) $(GATEWAY) '$(DESTDIR)$(bindir)/payment_records_gateway'

uninstall: uninstall-gateway
uninstall-gateway:
	rm -f '$(DESTDIR)$(bindir)/payment_records_gateway'

clean: clean-gateway
clean-gateway:
	rm -f $(GATEWAY) $(GATEWAY_OBJS)

.PHONY: install-gateway uninstall-gateway clean-gateway
