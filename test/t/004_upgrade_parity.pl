# test/t/004_upgrade_parity.pl: an upgraded extension is the same as a fresh
# one (issue 5, part 4).
#
# The upgrade paths are discovered from the installed scripts, nothing is
# listed by hand: in `pg_config --sharedir`/extension, payment_records--V.sql
# installs version V and payment_records--A--B.sql updates A to B.  From
# those files the test builds the graph of updates, finds every version that
# can be installed (a full script, or reachable from one) and can reach the
# control file's default_version, and every simple path from it to the
# default.  For each path: a new database, CREATE EXTENSION ... VERSION
# '<first>', ALTER EXTENSION ... UPDATE TO each next version in turn; and for
# each starting version also a plain ALTER EXTENSION ... UPDATE (the path
# PostgreSQL picks).  The result's catalog description must equal that of a
# fresh CREATE EXTENSION.  PostgreSQL's own pg_extension_update_paths() is
# checked to agree with the graph.
#
# The description covers the extension's member objects (by pg_depend 'e')
# and what hangs off its tables: membership; schema; relations (kind,
# persistence, owner, options, RLS); views (definition); sequences;
# columns (position, name, type, collation, not-null, default, identity,
# generated); constraints (pg_get_constraintdef, deferrability, validity);
# indexes (pg_get_indexdef, flags); triggers (name, tgtype, function,
# enabled, constraint trigger or not, deferrable, definition); functions
# (signature, arguments with defaults, result, kind, language,
# SECURITY DEFINER, leakproof, strict, volatility, parallel, cost, rows,
# proconfig, owner, prosrc, probin); types; policies; grants (relacl,
# attacl, proacl, nspacl, typacl, each sorted, and pg_init_privs); the
# configuration dump entries (extconfig with extcondition, by name); and
# comments.  OIDs never appear, only names.
#
# With a single version (1.0 today) there is no path: the test then compares
# two fresh installs in two databases, so the comparison code still runs, and
# says so in a note.  In every case it first proves that the comparison can
# fail: a fresh install altered in each category must differ in it.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
# test/perl, found from this file: PGXS resets PROVE_FLAGS after the
# Makefile sets it, so prove does not get -I test/perl from there
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PaymentRecordsTest;
use Test::More;

my $ext  = 'payment_records';
my $node = pr_new_node('upgrade', no_extension => 1);

# ---------------------------------------------------------------------
# Discovery of versions and update paths from the installed files.
# ---------------------------------------------------------------------

my $extdir = $node->config_data('--sharedir') . '/extension';
my $control = slurp_file("$extdir/$ext.control");
my ($default) = $control =~ /^\s*default_version\s*=\s*'([^']+)'/m;
ok(defined $default, "the control file names a default_version")
  or BAIL_OUT("no default_version in $extdir/$ext.control");

my (%install, %edges);    # version => 1; from => { to => 1 }
for my $file (glob("$extdir/$ext--*.sql"))
{
	my ($spec) = $file =~ m{/\Q$ext\E--(.+)\.sql$} or next;
	my @v = split /--/, $spec;
	if    (@v == 1) { $install{ $v[0] } = 1 }
	elsif (@v == 2) { $edges{ $v[0] }{ $v[1] } = 1 }
	else            { fail("cannot parse the script name $file") }
}
my %all = (%install, map { ($_ => 1, map { ($_ => 1) } keys %{ $edges{$_} }) } keys %edges);
note "installed scripts: "
  . join(', ',
	(map { "$ext--$_.sql" } sort keys %install),
	(map { my $f = $_; map { "$ext--$f--$_.sql" } sort keys %{ $edges{$f} } } sort keys %edges));

# Installable: a full script, or reachable from an installable version.
my %installable = %install;
my @queue = keys %install;
while (my $v = shift @queue)
{
	for my $w (keys %{ $edges{$v} // {} })
	{
		push @queue, $w unless $installable{$w}++;
	}
}
ok($installable{$default}, "the default version $default can be installed");

# Versions that reach the default: walk the edges backwards from it.
my %reverse;
for my $f (keys %edges) { $reverse{$_}{$f} = 1 for keys %{ $edges{$f} } }
my %reaches = ($default => 1);
@queue = ($default);
while (my $v = shift @queue)
{
	for my $u (keys %{ $reverse{$v} // {} })
	{
		push @queue, $u unless $reaches{$u}++;
	}
}

# Every simple path from $from to the default, through versions that reach it.
sub paths_from
{
	my ($from, $seen) = @_;
	return ([$from]) if $from eq $default;
	my @paths;
	for my $next (sort keys %{ $edges{$from} // {} })
	{
		next if !$reaches{$next} || $seen->{$next};
		push @paths, map { [ $from, @$_ ] }
		  paths_from($next, { %$seen, $next => 1 });
	}
	return @paths;
}

my @sources = sort grep { $_ ne $default && $installable{$_} } keys %reaches;
my @paths = map { paths_from($_, { $_ => 1 }) } @sources;

# PostgreSQL's view of the same scripts must agree.
is( $node->safe_psql(
		'postgres', qq{
SELECT coalesce(string_agg(source, ',' ORDER BY source), '')
FROM pg_extension_update_paths('$ext')
WHERE target = '$default' AND path IS NOT NULL}),
	join(',', sort grep { $_ ne $default } keys %reaches),
	'pg_extension_update_paths() agrees on the versions that reach the default');
is( $node->safe_psql(
		'postgres', qq{
SELECT string_agg(version, ',' ORDER BY version)
FROM pg_available_extension_versions WHERE name = '$ext'}),
	join(',', sort keys %installable),
	'pg_available_extension_versions agrees on the installable versions');

# ---------------------------------------------------------------------
# The catalog description: category => sorted lines.
# ---------------------------------------------------------------------

my $cte = qq{
WITH ext AS (SELECT * FROM pg_extension WHERE extname = '$ext'),
mem AS (
	SELECT d.classid, d.objid FROM pg_depend d, ext
	WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid
	  AND d.deptype = 'e'),
rels AS (
	SELECT c.*, c.oid AS reloid FROM pg_class c
	JOIN mem ON mem.classid = 'pg_class'::regclass AND mem.objid = c.oid),
procs AS (
	SELECT p.* FROM pg_proc p
	JOIN mem ON mem.classid = 'pg_proc'::regclass AND mem.objid = p.oid),
types AS (
	SELECT t.* FROM pg_type t
	JOIN mem ON mem.classid = 'pg_type'::regclass AND mem.objid = t.oid)
};

# An ACL as sorted text, so the order of GRANTs does not matter.
sub acl { "(SELECT string_agg(a::text, ' ' ORDER BY a::text) FROM unnest($_[0]) a)" }

my %describe = (
	extension => q{
SELECT format('version %s relocatable %s schema %s owner %s comment %s',
	extversion, extrelocatable, extnamespace::regnamespace, extowner::regrole,
	obj_description(oid, 'pg_extension'))
FROM ext},
	members => q{
SELECT pg_describe_object(classid, objid, 0) FROM mem},
	schema => q{
SELECT format('%s owner %s', n.nspname, n.nspowner::regrole)
FROM pg_namespace n, ext WHERE n.oid = ext.extnamespace},
	relations => q{
SELECT format('%s kind %s persistence %s owner %s options %s rls %s force %s replident %s',
	relname, relkind, relpersistence, relowner::regrole, reloptions,
	relrowsecurity, relforcerowsecurity, relreplident)
FROM rels},
	views => q{
SELECT format('%s: %s', relname, pg_get_viewdef(reloid))
FROM rels WHERE relkind IN ('v', 'm')},
	sequences => q{
SELECT format('%s: type %s start %s increment %s min %s max %s cache %s cycle %s owned by %s',
	c.relname, s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
	s.seqcache, s.seqcycle,
	(SELECT d.refobjid::regclass || '.' || a.attname
	 FROM pg_depend d
	 JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
	 WHERE d.classid = 'pg_class'::regclass AND d.objid = c.reloid
	   AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))
FROM rels c JOIN pg_sequence s ON s.seqrelid = c.reloid},
	columns => q{
SELECT format('%s.%s: position %s type %s collation %s not null %s default %s identity %s generated %s',
	c.relname, a.attname,
	row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum),
	format_type(a.atttypid, a.atttypmod), coll.collname, a.attnotnull,
	pg_get_expr(ad.adbin, ad.adrelid), a.attidentity, a.attgenerated)
FROM rels c
JOIN pg_attribute a ON a.attrelid = c.reloid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_collation coll ON coll.oid = a.attcollation
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')},
	constraints => q{
SELECT format('%s %s: type %s %s deferrable %s deferred %s validated %s',
	c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid),
	k.condeferrable, k.condeferred, k.convalidated)
FROM rels c JOIN pg_constraint k ON k.conrelid = c.reloid},
	indexes => q{
SELECT format('%s; primary %s unique %s immediate %s clustered %s replident %s valid %s',
	pg_get_indexdef(i.indexrelid), i.indisprimary, i.indisunique, i.indimmediate,
	i.indisclustered, i.indisreplident, i.indisvalid)
FROM rels c JOIN pg_index i ON i.indrelid = c.reloid},
	triggers => q{
SELECT format('%s %s: type %s function %s enabled %s constraint %s deferrable %s deferred %s; %s',
	c.relname, t.tgname, t.tgtype, t.tgfoid::regprocedure, t.tgenabled,
	t.tgconstraint <> 0, t.tgdeferrable, t.tginitdeferred, pg_get_triggerdef(t.oid))
FROM rels c JOIN pg_trigger t ON t.tgrelid = c.reloid
WHERE NOT t.tgisinternal},
	functions => q{
SELECT format('%s (%s) returns %s: kind %s language %s security definer %s leakproof %s'
	' strict %s volatility %s parallel %s cost %s rows %s config %s owner %s support %s'
	' src %s bin %s',
	p.oid::regprocedure, pg_get_function_arguments(p.oid), pg_get_function_result(p.oid),
	p.prokind, l.lanname, p.prosecdef, p.proleakproof, p.proisstrict, p.provolatile,
	p.proparallel, p.procost, p.prorows, p.proconfig, p.proowner::regrole,
	p.prosupport, p.prosrc, p.probin)
FROM procs p JOIN pg_language l ON l.oid = p.prolang},
	types => q{
SELECT format('%s: type %s category %s base %s not null %s default %s labels %s attributes %s',
	t.oid::regtype, t.typtype, t.typcategory,
	CASE WHEN t.typbasetype <> 0 THEN format_type(t.typbasetype, t.typtypmod) END,
	t.typnotnull, t.typdefault,
	(SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
	 FROM pg_enum e WHERE e.enumtypid = t.oid),
	(SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ','
					   ORDER BY a.attnum)
	 FROM pg_attribute a
	 WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped))
FROM types t},
	policies => q{
SELECT format('%s %s: command %s permissive %s roles %s using %s check %s',
	c.relname, p.polname, p.polcmd, p.polpermissive,
	(SELECT string_agg(r::regrole::text, ',' ORDER BY r::regrole::text)
	 FROM unnest(p.polroles) r),
	pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
FROM rels c JOIN pg_policy p ON p.polrelid = c.reloid},
	grants => q{
SELECT format('schema %s: %s', n.nspname, } . acl('n.nspacl') . q{)
FROM pg_namespace n, ext WHERE n.oid = ext.extnamespace
UNION ALL
SELECT format('relation %s: %s', relname, } . acl('relacl') . q{) FROM rels
UNION ALL
SELECT format('column %s.%s: %s', c.relname, a.attname, } . acl('a.attacl') . q{)
FROM rels c JOIN pg_attribute a ON a.attrelid = c.reloid
WHERE a.attacl IS NOT NULL AND NOT a.attisdropped
UNION ALL
SELECT format('function %s: %s', p.oid::regprocedure, } . acl('p.proacl') . q{)
FROM procs p
UNION ALL
SELECT format('type %s: %s', t.oid::regtype, } . acl('t.typacl') . q{) FROM types t
UNION ALL
SELECT format('initial privileges of %s (%s): %s',
	pg_describe_object(ip.classoid, ip.objoid, ip.objsubid), ip.privtype,
	} . acl('ip.initprivs') . q{)
FROM pg_init_privs ip, ext
WHERE (ip.classoid, ip.objoid) IN (SELECT classid, objid FROM mem)
   OR (ip.classoid = 'pg_namespace'::regclass AND ip.objoid = ext.extnamespace)},
	config => q{
SELECT format('%s where %s', u.oid::regclass, quote_nullable(u.cond))
FROM ext, unnest(ext.extconfig, ext.extcondition) AS u(oid, cond)},
	comments => q{
SELECT format('%s: %s', pg_describe_object(d.classoid, d.objoid, d.objsubid), d.description)
FROM pg_description d, ext
WHERE (d.classoid, d.objoid) IN (SELECT classid, objid FROM mem)
   OR (d.classoid = 'pg_namespace'::regclass AND d.objoid = ext.extnamespace)
   OR (d.classoid = 'pg_constraint'::regclass
	   AND d.objoid IN (SELECT k.oid FROM pg_constraint k JOIN rels ON k.conrelid = rels.reloid))
   OR (d.classoid = 'pg_trigger'::regclass
	   AND d.objoid IN (SELECT t.oid FROM pg_trigger t JOIN rels ON t.tgrelid = rels.reloid))
   OR (d.classoid = 'pg_class'::regclass
	   AND d.objoid IN (SELECT i.indexrelid FROM pg_index i JOIN rels ON i.indrelid = rels.reloid))},
);
my @categories = sort keys %describe;

# category => [sorted lines] for the extension in $db.
sub describe
{
	my ($db) = @_;
	my %d;
	for my $cat (@categories)
	{
		# one line per row; a newline inside a value (a function body, a
		# view) is kept as \n so that lines stay whole
		my $out = $node->safe_psql($db,
			    $cte
			  . "SELECT coalesce(string_agg(replace(line, E'\\n', '\\n'), E'\\n'"
			  . " ORDER BY line COLLATE \"C\"), '') FROM ($describe{$cat}) AS x(line)");
		$d{$cat} = [ split /\n/, $out ];
	}
	return \%d;
}

# Lines of one side missing from the other, as "-"/"+" lines.
sub differences
{
	my ($got, $want) = @_;
	my (%g, %w);
	$g{$_}++ for @$got;
	$w{$_}++ for @$want;
	return (
		(map { "- $_" } grep { ($w{$_} // 0) > ($g{$_} // 0) } sort keys %w),
		(map { "+ $_" } grep { ($g{$_} // 0) > ($w{$_} // 0) } sort keys %g));
}

# Asserts that $got describes the same extension as $want, per category.
sub compare_descriptions
{
	my ($got, $want, $label) = @_;
	for my $cat (@categories)
	{
		my @diff = differences($got->{$cat}, $want->{$cat});
		ok(!@diff, "$label: $cat identical")
		  or diag("$label, $cat (- fresh, + $label):\n" . join("\n", @diff));
	}
	return;
}

my $dbno = 0;

# A new database with the extension created at $version.
sub new_db
{
	my ($version) = @_;
	my $db = 'pr_db_' . ++$dbno;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, "CREATE EXTENSION $ext VERSION '$version'");
	return $db;
}

my $fresh = describe(new_db($default));
cmp_ok(scalar(@{ $fresh->{functions} }), '>', 0, 'the description lists functions');
cmp_ok(scalar(@{ $fresh->{triggers} }),  '>', 0, 'the description lists triggers');
cmp_ok(scalar(@{ $fresh->{config} }),    '>', 0, 'the description lists config entries');
cmp_ok(scalar(@{ $fresh->{grants} }),    '>', 0, 'the description lists grants');

# ---------------------------------------------------------------------
# The comparison can fail: alter a fresh install in every category it can
# be altered in, and each of those must show a difference.  The objects
# altered are picked from the catalog (the first member table and sequence,
# another configuration table), so that the check survives changes to the
# install script.
# ---------------------------------------------------------------------

my $altered_db = new_db($default);
my $member = sub {
	my ($kinds) = @_;
	return $node->safe_psql(
		$altered_db, qq{
SELECT c.oid::regclass FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
WHERE d.classid = 'pg_class'::regclass AND d.deptype = 'e'
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = '$ext')
  AND c.relkind IN ($kinds)
ORDER BY c.relname COLLATE "C"});
};
my @tables = split /\n/, $member->("'r'");
my ($seq)  = split /\n/, $member->("'S'");
my ($func) = $node->safe_psql($altered_db, qq{
SELECT p.oid::regprocedure FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = '$ext')
ORDER BY 1 LIMIT 1});
my $table = $tables[0];
my ($column) = $node->safe_psql($altered_db, qq{
SELECT quote_ident(attname) FROM pg_attribute
WHERE attrelid = '$table'::regclass AND attnum > 0 AND NOT attisdropped
ORDER BY attnum LIMIT 1});
note "self-check alters $table, $seq and $func";
$node->safe_psql(
	$altered_db, qq{
ALTER FUNCTION $func COST 4321;
CREATE TRIGGER regress_trigger BEFORE UPDATE ON $table
	FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
ALTER TABLE $table ADD CONSTRAINT regress_check CHECK (true);
CREATE INDEX regress_index ON $table ($column);
ALTER TABLE $table ADD COLUMN regress_column int DEFAULT 1;
ALTER TABLE $table SET (fillfactor = 90);
ALTER SEQUENCE $seq CACHE 7;
GRANT SELECT ON $table TO PUBLIC;
CREATE TYPE $ext.regress_kind AS ENUM ('a', 'b');
ALTER EXTENSION $ext ADD TYPE $ext.regress_kind;
CREATE POLICY regress_policy ON $table USING (true);
COMMENT ON SCHEMA $ext IS 'altered';
});
# A configuration entry can only be added by an extension script: take one
# away, from a table other than the one altered above.
my ($config_rel) = grep {
	$_ ne $table
	  && $node->safe_psql($altered_db,
		"SELECT relkind FROM pg_class WHERE oid = '$_'::regclass") eq 'r'
} map { /^(\S+) where/ } @{ $fresh->{config} };
$node->safe_psql($altered_db, "ALTER EXTENSION $ext DROP TABLE $config_rel")
  if defined $config_rel;
my $altered = describe($altered_db);
for my $cat (qw(functions triggers constraints indexes columns relations sequences
	grants types policies comments members config))
{
	my @diff = differences($altered->{$cat}, $fresh->{$cat});
	ok(scalar(@diff), "self-check: an altered install differs in $cat");
}

# ---------------------------------------------------------------------
# Upgrades.
# ---------------------------------------------------------------------

if (!@paths)
{
	note "no update script leads to $default (the only version is $default):"
	  . " comparing two fresh installs instead";
	compare_descriptions(describe(new_db($default)), $fresh,
		"second fresh install of $default");
}

for my $path (@paths)
{
	my @steps = @$path;
	my $label = 'update ' . join(' -> ', @steps);
	my $db = new_db($steps[0]);
	$node->safe_psql($db, "ALTER EXTENSION $ext UPDATE TO '$_'")
	  for @steps[ 1 .. $#steps ];
	is($node->safe_psql($db, "SELECT extversion FROM pg_extension WHERE extname = '$ext'"),
		$default, "$label: reaches $default");
	compare_descriptions(describe($db), $fresh, $label);
}

for my $from (@sources)
{
	my $label = "plain ALTER EXTENSION UPDATE from $from";
	my $db = new_db($from);
	$node->safe_psql($db, "ALTER EXTENSION $ext UPDATE");
	is($node->safe_psql($db, "SELECT extversion FROM pg_extension WHERE extname = '$ext'"),
		$default, "$label: reaches $default");
	compare_descriptions(describe($db), $fresh, $label);
}
note sprintf('%d version(s) (%s), %d update path(s) to %s checked',
	scalar(keys %all), join(', ', sort keys %all), scalar(@paths), $default);

$node->stop;
done_testing();
