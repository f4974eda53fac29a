#include "frame.h"

#include <string.h>

#include "banned.h"

const char *frame_kind_suffix(enum frame_kind kind)
{
	switch (kind) {
	case FRAME_INLINED: return "_[i]";
	case FRAME_KERNEL: return "_[k]";
	case FRAME_JIT: return "_[j]";
	case FRAME_NATIVE:
	case FRAME_PYTHON:
	case FRAME_UNKNOWN:
	case FRAME_MARKER:
		break;
	}
	return "";
}

const char *frame_kind_name(enum frame_kind kind)
{
	switch (kind) {
	case FRAME_NATIVE: return "native";
	case FRAME_INLINED: return "inlined";
	case FRAME_KERNEL: return "kernel";
	case FRAME_JIT: return "jit";
	case FRAME_PYTHON: return "python";
	case FRAME_UNKNOWN: return "unknown";
	case FRAME_MARKER: return "marker";
	}
	return "unknown";
}

const char *frame_kind_tag(enum frame_kind kind)
{
	return kind == FRAME_INLINED ? " [inlined]" : "";
}

size_t frame_kind_from_suffix(const char *name, size_t len, enum frame_kind *kind)
{
	/* Every suffix is "_[" letter "]"; a name of the suffix alone is a
	 * name, not an empty name with a kind (flamegraph.pl reads it so). */
	*kind = FRAME_NATIVE;
	if (len <= 4 || name[len - 4] != '_' || name[len - 3] != '[' || name[len - 1] != ']')
		return 0;
	for (int k = 0; k < FRAME_KIND_COUNT; k++) {
		const char *s = frame_kind_suffix((enum frame_kind)k);

		if (s[0] && s[2] == name[len - 2]) {
			*kind = (enum frame_kind)k;
			return 4;
		}
	}
	return 0;
}
