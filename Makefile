# skiff: one entry point. `make` builds build/bin/{skiffd,skiff-monitor,skiff}.
# Targets: all, test, test-unit, test-e2e, check, bench, demo, kmod, install, clean.
.DELETE_ON_ERROR:
.SUFFIXES:

CC       ?= gcc
BUILD    ?= build
PKGS     := libevent jansson libseccomp zlib libcrypto libbpf libnftables
CFLAGS   ?= -O2 -g
CFLAGS   += -Wall -Wextra -Werror -Wno-format-truncation -std=gnu11 -D_GNU_SOURCE -fno-strict-aliasing -MMD -MP \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
PREFIX   ?= /usr/local

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

LIB_SRCS := $(filter-out userspace/daemon/main.c userspace/runtime/monitor-main.c, \
              $(wildcard userspace/*/*.c))
API_SRCS := $(wildcard api/*.c)
CLI_SRCS := $(wildcard tools/skiff/*.c)
UNIT_SRCS := $(wildcard tests/unit/test-*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
LIB_OBJS := $(call obj,$(LIB_SRCS))
API_OBJS := $(call obj,$(API_SRCS))
CLI_OBJS := $(call obj,$(CLI_SRCS))
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
LIBSKIFF := $(BUILD)/libskiff.a
BINS := $(BUILD)/bin/skiffd $(BUILD)/bin/skiff-monitor $(BUILD)/bin/skiff

all: $(BINS)

$(BUILD)/obj/%.o: %.c
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(LIBSKIFF): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/skiffd: $(call obj,userspace/daemon/main.c) $(API_OBJS) $(LIBSKIFF)
	$(call msg,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/skiff-monitor: $(call obj,userspace/runtime/monitor-main.c) $(LIBSKIFF)
	$(call msg,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/skiff: $(CLI_OBJS) $(LIBSKIFF)
	$(call msg,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# eBPF: bpf/<f>/<f>.bpf.c -> build/bpf/<f>.bpf.o -> build/bpf/<f>.skel.h. vmlinux.h is
# generated from the running kernel's BTF, never committed. Userspace loaders
# (userspace/net/bpf-*.c) include the skeletons, so they wait for them.
BPF_SRCS := $(wildcard bpf/*/*.bpf.c)
BPF_FEATURES := $(patsubst %.bpf.c,%,$(notdir $(BPF_SRCS)))
BPF_SKELS := $(BPF_FEATURES:%=$(BUILD)/bpf/%.skel.h)
BPF_USERS := $(call obj,$(wildcard userspace/net/bpf-*.c))
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror -I$(BUILD)/bpf -Ibpf/include

$(BUILD)/bpf/vmlinux.h:
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)bpftool btf dump file /sys/kernel/btf/vmlinux format c > $@

define bpf_feature_rule
$(BUILD)/bpf/$(1).bpf.o: bpf/$(1)/$(1).bpf.c $(BUILD)/bpf/vmlinux.h $(wildcard bpf/include/*.h bpf/$(1)/*.h)
	$$(call msg,CLANG,$$<)
	$(Q)clang $(BPF_CFLAGS) -Ibpf/$(1) -c $$< -o $$@
endef
$(foreach f,$(BPF_FEATURES),$(eval $(call bpf_feature_rule,$(f))))

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)bpftool gen skeleton $< > $@

$(BPF_USERS): CFLAGS += -I$(BUILD)/bpf
$(BPF_USERS): $(BPF_SKELS)

# kselftest harness headers come from Debian's linux-source-6.1 at build time.
KSFT := $(BUILD)/kselftest/kselftest_harness.h
$(KSFT):
	$(call msg,EXTRACT,kselftest harness)
	$(Q)mkdir -p $(@D)
	$(Q)tar -xJf /usr/src/linux-source-6.1.tar.xz -C $(@D) --strip-components=4 \
		linux-source-6.1/tools/testing/selftests/kselftest_harness.h \
		linux-source-6.1/tools/testing/selftests/kselftest.h

$(BUILD)/tests/%: tests/unit/%.c $(LIBSKIFF) $(KSFT)
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -Wno-unused-parameter -Wno-sign-compare -I$(BUILD)/kselftest -o $@ $< $(LIBSKIFF) $(LDLIBS)

unit: $(UNIT_BINS)

deps:
	$(Q)tools/dev/deps build

test-unit: all unit fuzz-build
	$(Q)tools/dev/run-tests unit

test-e2e: all
	$(Q)tools/dev/run-tests e2e

# The README's test command: installs what tests need, builds, runs everything.
test:
	$(Q)tools/dev/deps test
	$(Q)$(MAKE) --no-print-directory all unit fuzz-build
	$(Q)tools/dev/run-tests all

demo:
	$(Q)tools/dev/deps demo
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tools/dev/demo

bench:
	$(Q)tools/dev/deps test
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tools/bench/run

check: all unit
	$(Q)tools/dev/check

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/

kmod:
	@echo "kmod: the optional kernel module is not built yet" >&2; exit 1

# Fuzzing (tests/fuzz/fuzz-<name>.c, libFuzzer): the parsers of hostile input
# and what they need, compiled again with clang's fuzzer and sanitizer
# instrumentation into build/fuzz/. `make fuzz` runs each for FUZZ_SECONDS.
FUZZ_CC := clang-14
FUZZ_CFLAGS := -O1 -g -std=gnu11 -D_GNU_SOURCE -fno-strict-aliasing -Wall -Wextra -Wno-unused-parameter \
               -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
               $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
FUZZ_LIB_SRCS := $(wildcard userspace/lib/*.c) userspace/net/dns.c userspace/image/tar.c userspace/image/tar-extract.c api/http.c api/router.c \
                 $(addprefix userspace/build/,dockerfile.c expand.c lex.c dockerignore.c)
FUZZ_LIB_OBJS := $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(FUZZ_LIB_SRCS))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz-*.c))
FUZZ_SECONDS ?= 60

$(BUILD)/fuzz/obj/%.o: %.c
	$(call msg,FUZZ-CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(BUILD)/fuzz/libskiff-fuzz.a: $(FUZZ_LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/fuzz/fuzz-%: tests/fuzz/fuzz-%.c $(BUILD)/fuzz/libskiff-fuzz.a
	$(call msg,FUZZ-LD,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -MMD -MP -o $@ $< $(BUILD)/fuzz/libskiff-fuzz.a $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	$(Q)tools/dev/run-fuzz $(FUZZ_SECONDS) $(FUZZ_BINS)

fuzz-smoke: fuzz-build
	$(Q)tools/dev/run-fuzz 10 $(FUZZ_BINS)

.PHONY: fuzz fuzz-build fuzz-smoke

clean:
	rm -rf $(BUILD)

.PHONY: all unit deps test test-unit test-e2e demo bench check install kmod clean

-include $(shell find $(BUILD)/obj $(BUILD)/tests $(BUILD)/fuzz -name '*.d' 2>/dev/null)
