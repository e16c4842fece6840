#!/usr/bin/env bash
# make -j2 on node 1 into a project on the volume while node 2 reads every object it finds; then compare with native
R=/tmp/bughunt/c; N=${1:-150}
gen() { # $1 dir
  rm -rf $1; mkdir -p $1
  for k in $(seq 1 $N); do printf '#include <stdio.h>\nstatic char big%d[%d] = {1};\nint f%d(void){ static const char s[]="%0*d"; return printf("%%s%%d", s, big%d[0]) + %d; }\n' $k $((k*50)) $k $((k*20)) 0 $k $k > $1/f$k.c; done
  printf 'int main(void){return 0;}\n' > $1/main.c
  printf 'SRCS=$(wildcard *.c)\nOBJS=$(SRCS:.c=.o)\nprog: $(OBJS)\n\tgcc -o $@ $^\n%%.o: %%.c\n\tgcc -O1 -c -o $@ $<\nclean:\n\trm -f *.o prog\n' > $1/Makefile
}
gen /tmp/bughunt/native/proj; gen $R/m1/proj
(cd /tmp/bughunt/native/proj && make -s -j2 >/dev/null)
(cd $R/m1/proj && make -s -j2 > /tmp/bughunt/out/make.log 2>&1; echo "make rc=$?" >> /tmp/bughunt/out/make.log) &
mk=$!
reads=0; bad=0
end=$((SECONDS+120))
while kill -0 $mk 2>/dev/null && [ $SECONDS -lt $end ]; do
  for o in $R/m2/proj/*.o; do [ -e "$o" ] || continue; reads=$((reads+1)); objdump -h "$o" >/dev/null 2>&1 || bad=$((bad+1)); done
done
wait $mk
cat /tmp/bughunt/out/make.log
echo "reads on node 2 during make: $reads, unreadable (partly written, expected sometimes): $bad"
(cd /tmp/bughunt/native/proj && sha256sum *.o | sort) > /tmp/bughunt/out/native.o
for i in 1 2 3; do (cd $R/m$i/proj && sha256sum *.o | sort) > /tmp/bughunt/out/m$i.o; cmp -s /tmp/bughunt/out/native.o /tmp/bughunt/out/m$i.o && echo "node $i objects = native" || { echo "node $i objects DIFFER"; diff /tmp/bughunt/out/native.o /tmp/bughunt/out/m$i.o | head -5; }; done
for i in 2 3; do (cd $R/m$i/proj && ./prog; echo "prog on node $i rc=$?"); done
