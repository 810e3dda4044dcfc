#!/usr/bin/env python3
"""test/meta.py [META.json]: validate META.json against the PGXN Meta Spec
v1.0.0 (https://pgxn.org/spec/): the required keys (name, abstract,
maintainer, version, license, provides, meta-spec) and their types, the
optional keys the spec defines (and no others but x_/X_ custom keys),
semantic versions, the license strings, prereqs phases, relations and
version ranges, resources, tags, release_status, no_index; then that it
agrees with the tree: each provided extension's file exists, its version is
the control file's default_version (as a semantic version), the
distribution's version is that version too.  Debian has no PGXN validator;
this is the spec's rules, checked one by one.  Exits 1 with every problem
found."""
import json
import os
import re
import sys

SEMVER = re.compile(r'^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$')
LICENSES = {
    'agpl_3', 'apache_1_1', 'apache_2_0', 'artistic_1', 'artistic_2', 'bsd',
    'freebsd', 'gfdl_1_2', 'gfdl_1_3', 'gpl_1', 'gpl_2', 'gpl_3', 'lgpl_2_1',
    'lgpl_3_0', 'mit', 'mozilla_1_0', 'mozilla_1_1', 'openssl', 'perl_5',
    'postgresql', 'qpl_1_0', 'ssleay', 'sun', 'zlib', 'open_source',
    'restricted', 'unrestricted', 'unknown',
}
PHASES = {'configure', 'build', 'test', 'runtime', 'develop'}
RELATIONS = {'requires', 'recommends', 'suggests', 'conflicts'}
RELEASE_STATUS = {'stable', 'testing', 'unstable'}
REQUIRED = ('name', 'abstract', 'maintainer', 'version', 'license', 'provides', 'meta-spec')
OPTIONAL = ('description', 'generated_by', 'tags', 'no_index', 'prereqs',
            'release_status', 'resources')
URI = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*:\S+$')
EMAIL = re.compile(r'^[^@\s]+@[^@\s]+$')
RANGE_PART = re.compile(r'^\s*(?:(>=|<=|==|!=|>|<)\s*)?(\S+)\s*$')

problems = []


def bad(path, msg):
    problems.append(f'{path}: {msg}')


def is_str(v):
    return isinstance(v, str) and v.strip() != ''


def custom(key):
    return key.startswith('x_') or key.startswith('X_')


def check_keys(obj, path, allowed):
    for k in obj:
        if k not in allowed and not custom(k):
            bad(f'{path}.{k}', 'not a key the spec defines (custom keys start with x_)')


def check_version(v, path):
    if not isinstance(v, str) or not SEMVER.match(v):
        bad(path, f'{v!r} is not a semantic version (x.y.z)')


def check_range(v, path):
    if isinstance(v, int) and v == 0:
        return
    if not isinstance(v, str) or v.strip() == '':
        bad(path, f'{v!r} is not a version range')
        return
    if v.strip() == '0':
        return
    for part in v.split(','):
        m = RANGE_PART.match(part)
        if not m or not SEMVER.match(m.group(2)):
            bad(path, f'{part.strip()!r} is not "[op] x.y.z"')


def check_uri(v, path):
    if not isinstance(v, str) or not URI.match(v):
        bad(path, f'{v!r} is not a URI')


def main():
    meta_path = sys.argv[1] if len(sys.argv) > 1 else 'META.json'
    root = os.path.dirname(os.path.abspath(meta_path))
    try:
        with open(meta_path, encoding='utf-8') as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        print(f'META.json: cannot read it as JSON: {e}')
        return 1
    if not isinstance(meta, dict):
        print('META.json: not a JSON object')
        return 1

    for k in REQUIRED:
        if k not in meta:
            bad(k, 'required and missing')
    check_keys(meta, 'META', REQUIRED + OPTIONAL)

    name = meta.get('name')
    if not isinstance(name, str) or len(name) < 2 or re.search(r'[\s/\\\x00-\x1f\x7f]', name):
        bad('name', f'{name!r}: at least 2 characters, no whitespace, slash, backslash or control character')
    for k in ('abstract', 'description', 'generated_by'):
        if k in meta and not is_str(meta[k]):
            bad(k, 'must be a non-empty string')
    if 'version' in meta:
        check_version(meta['version'], 'version')

    m = meta.get('maintainer')
    if 'maintainer' in meta and not (is_str(m) or (isinstance(m, list) and m and all(is_str(x) for x in m))):
        bad('maintainer', 'must be a string or a non-empty list of strings')

    lic = meta.get('license')
    if isinstance(lic, str):
        if lic not in LICENSES:
            bad('license', f'{lic!r} is not one of the spec\'s license strings')
    elif isinstance(lic, list):
        if not lic:
            bad('license', 'empty list')
        for i, x in enumerate(lic):
            if x not in LICENSES:
                bad(f'license[{i}]', f'{x!r} is not one of the spec\'s license strings')
    elif isinstance(lic, dict):
        if not lic:
            bad('license', 'empty map')
        for k, v in lic.items():
            check_uri(v, f'license.{k}')
    elif 'license' in meta:
        bad('license', 'must be a string, a list of strings or a map of name to URL')

    prov = meta.get('provides')
    if 'provides' in meta:
        if not isinstance(prov, dict) or not prov:
            bad('provides', 'must be a non-empty map of extension name to {file, version}')
            prov = {}
        for ext, p in prov.items():
            path = f'provides.{ext}'
            if not isinstance(p, dict):
                bad(path, 'must be a map')
                continue
            check_keys(p, path, ('file', 'version', 'abstract', 'docfile'))
            for k in ('file', 'version'):
                if k not in p:
                    bad(f'{path}.{k}', 'required and missing')
            if 'version' in p:
                check_version(p['version'], f'{path}.version')
            for k in ('file', 'docfile'):
                if k in p:
                    if not is_str(p[k]):
                        bad(f'{path}.{k}', 'must be a path')
                    elif not os.path.isfile(os.path.join(root, p[k])):
                        bad(f'{path}.{k}', f'{p[k]} does not exist in the tree')
            if 'abstract' in p and not is_str(p['abstract']):
                bad(f'{path}.abstract', 'must be a non-empty string')
            # the tree: the control file's default_version
            control = os.path.join(root, f'{ext}.control')
            if os.path.isfile(control):
                with open(control, encoding='utf-8') as f:
                    dv = re.search(r"^default_version\s*=\s*'([^']*)'", f.read(), re.M)
                if dv:
                    want = dv.group(1)
                    want = want + '.0' * (2 - want.count('.')) if re.match(r'^\d+(\.\d+){0,2}$', want) else want
                    if p.get('version') != want:
                        bad(f'{path}.version', f'{p.get("version")!r}, but {ext}.control has default_version {dv.group(1)!r} ({want})')
                    if meta.get('version') != want:
                        bad('version', f'{meta.get("version")!r}, but {ext}.control has default_version {dv.group(1)!r} ({want})')
            else:
                bad(path, f'no {ext}.control in the tree')

    ms = meta.get('meta-spec')
    if 'meta-spec' in meta:
        if not isinstance(ms, dict):
            bad('meta-spec', 'must be a map')
        else:
            check_keys(ms, 'meta-spec', ('version', 'url'))
            if ms.get('version') != '1.0.0':
                bad('meta-spec.version', f'{ms.get("version")!r}: this validator knows 1.0.0')
            if 'url' in ms:
                check_uri(ms['url'], 'meta-spec.url')

    if 'tags' in meta:
        t = meta['tags']
        if not isinstance(t, list) or not t:
            bad('tags', 'must be a non-empty list of strings')
        else:
            for i, x in enumerate(t):
                if not is_str(x) or len(x) > 255:
                    bad(f'tags[{i}]', 'must be a non-empty string of at most 255 characters')

    if 'release_status' in meta and meta['release_status'] not in RELEASE_STATUS:
        bad('release_status', f'{meta["release_status"]!r} is not stable, testing or unstable')

    if 'no_index' in meta:
        ni = meta['no_index']
        if not isinstance(ni, dict):
            bad('no_index', 'must be a map')
        else:
            check_keys(ni, 'no_index', ('file', 'directory'))
            for k, v in ni.items():
                if custom(k):
                    continue
                if not (is_str(v) or (isinstance(v, list) and all(is_str(x) for x in v))):
                    bad(f'no_index.{k}', 'must be a string or a list of strings')

    if 'prereqs' in meta:
        pr = meta['prereqs']
        if not isinstance(pr, dict):
            bad('prereqs', 'must be a map')
        else:
            check_keys(pr, 'prereqs', tuple(PHASES))
            for phase, rels in pr.items():
                if custom(phase):
                    continue
                if not isinstance(rels, dict):
                    bad(f'prereqs.{phase}', 'must be a map')
                    continue
                check_keys(rels, f'prereqs.{phase}', tuple(RELATIONS))
                for rel, deps in rels.items():
                    if custom(rel):
                        continue
                    if not isinstance(deps, dict):
                        bad(f'prereqs.{phase}.{rel}', 'must be a map of name to version range')
                        continue
                    for dep, rng in deps.items():
                        check_range(rng, f'prereqs.{phase}.{rel}.{dep}')

    if 'resources' in meta:
        rs = meta['resources']
        if not isinstance(rs, dict):
            bad('resources', 'must be a map')
        else:
            check_keys(rs, 'resources', ('homepage', 'bugtracker', 'repository'))
            if 'homepage' in rs:
                check_uri(rs['homepage'], 'resources.homepage')
            if 'bugtracker' in rs:
                bt = rs['bugtracker']
                if not isinstance(bt, dict) or not any(k in bt for k in ('web', 'mailto')):
                    bad('resources.bugtracker', 'must be a map with web and/or mailto')
                else:
                    check_keys(bt, 'resources.bugtracker', ('web', 'mailto'))
                    if 'web' in bt:
                        check_uri(bt['web'], 'resources.bugtracker.web')
                    if 'mailto' in bt and not (isinstance(bt['mailto'], str) and EMAIL.match(bt['mailto'])):
                        bad('resources.bugtracker.mailto', 'must be an email address')
            if 'repository' in rs:
                rp = rs['repository']
                if not isinstance(rp, dict) or not any(k in rp for k in ('url', 'web')):
                    bad('resources.repository', 'must be a map with url and/or web')
                else:
                    check_keys(rp, 'resources.repository', ('url', 'web', 'type'))
                    for k in ('url', 'web'):
                        if k in rp:
                            check_uri(rp[k], f'resources.repository.{k}')
                    if 'type' in rp and not (isinstance(rp['type'], str) and re.match(r'^[a-z]+$', rp['type'])):
                        bad('resources.repository.type', 'must be a lower-case word (git, svn, ...)')

    if problems:
        print(f'{meta_path}: {len(problems)} problem(s) against the PGXN Meta Spec v1.0.0:')
        for p in problems:
            print(f'  {p}')
        return 1
    print(f'{meta_path}: valid under the PGXN Meta Spec v1.0.0 '
          f'({meta["name"]} {meta["version"]}, provides {", ".join(sorted(meta["provides"]))})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
