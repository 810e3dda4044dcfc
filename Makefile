# payment_records -- PGXS build
#
# make && make install && make installcheck (regress, isolation, TAP).
# Warnings become errors only when asked: make PG_CFLAGS=-Werror (CI does).

EXTENSION = payment_records
EXTVERSION = $(shell sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" $(EXTENSION).control)

MODULE_big = payment_records
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
