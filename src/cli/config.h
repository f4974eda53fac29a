/*
 * config.h - the command line turned into each library's own configuration.
 * The libraries (tracer/, flamegraph/, ui/) never see struct options; the
 * program fills their structs here, in one place.
 */
#ifndef HOTSPY_CONFIG_H
#define HOTSPY_CONFIG_H

#include "elf_cache.h"
#include "options.h"
#include "sampler.h"
#include "svg.h"

/* How long record lets samples wait in the perf sampler's rings, in ms: a
 * ring of 16 KiB samples fills in 256 ms at 1000 Hz. */
#define CONFIG_RECORD_BATCH_MS 50

/* The sampler configuration @o asks for, sharing @cache (borrowed; may be
 * NULL for the caller to fill in). Its argv points into @o. */
struct sampler_config config_sampler(const struct options *o, struct elf_cache *cache);

/* Fill @so with the SVG options of @o (strings borrowed from @o). */
void config_svg(struct svg_options *so, const struct options *o);

#endif
