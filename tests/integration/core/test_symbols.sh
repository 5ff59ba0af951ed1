#!/bin/sh
# Plugins export exactly one symbol and link no host symbol.
#   $1 build root  $2 C compiler  $3 sdk include dir  $4 fx_hostsym.c
set -u
build=$1 cc=$2 inc=$3 src=$4
fail=0
n=0
for so in $(find "$build/plugins" "$build/sdk/example" "$build/tests/fixtures" -name '*.so' 2>/dev/null); do
  n=$((n + 1))
  syms=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v -e '^_init$' -e '^_fini$' -e '^_edata$' -e '^_end$' -e '^__bss_start$' | sort | tr '\n' ' ')
  if [ "$syms" != "tq_plugin_entry " ]; then
    echo "FAIL $so exports: $syms"; fail=1
  fi
done
[ "$n" -gt 0 ] || { echo "FAIL no plugins found under $build"; exit 1; }
echo "ok: $n plugins export only tq_plugin_entry"
# The plugin link flags refuse a reference to a host symbol.
out=$($cc -shared -fPIC -fvisibility=hidden -I"$inc" $(pkg-config --cflags jansson) \
  -Wl,--no-undefined "$src" $(pkg-config --libs jansson) -o /tmp/fx_hostsym.$$.so 2>&1)
if [ $? -eq 0 ]; then
  echo "FAIL a plugin calling host_log linked"; rm -f /tmp/fx_hostsym.$$.so; fail=1
elif ! echo "$out" | grep -q "undefined reference to .host_log"; then
  echo "FAIL unexpected link error: $out"; fail=1
else
  echo "ok: linking a plugin that calls host_log fails: undefined reference"
fi
exit $fail
