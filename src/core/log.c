#include "log.h"

#include <stdarg.h>
#include <stdio.h>

#include "banned.h"

/*
 * The sink and level are process-wide by nature (there is one terminal); they
 * are set once by main or the top view, never from a signal handler.
 */
static enum log_level log_level = LOG_INFO;
static log_sink_fn log_sink;
static void *log_sink_ctx;

void log_set_level(enum log_level level) { log_level = level; }
enum log_level log_get_level(void) { return log_level; }

void log_set_sink(log_sink_fn fn, void *ctx)
{
	log_sink = fn;
	log_sink_ctx = ctx;
}

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char buf[1024];

	if (level > log_level)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (log_sink) {
		log_sink(level, buf, log_sink_ctx);
		return;
	}
	fprintf(stderr, "hotspy: %s%s\n",
		level == LOG_WARN ? "warning: " : "", buf);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

int log_error(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_ERROR, fmt, ap);
	va_end(ap);
	return err;
}
