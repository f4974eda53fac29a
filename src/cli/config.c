#include "config.h"

#include "banned.h"

struct sampler_config config_sampler(const struct options *o, struct elf_cache *cache)
{
	return (struct sampler_config){
		.pid = o->pid,
		.argv = o->argv,
		.tid = o->tid,
		.rate = o->rate,
		.stack_size = o->stack_size,
		.idle = o->idle,
		.kernel = o->kernel,
		.subprocesses = o->subprocesses,
		.all = o->all,
		.pids = o->all ? o->pids : NULL,
		.npids = o->all ? o->npids : 0,
		.comms = o->all ? o->comms : NULL,
		.ncomms = o->all ? o->ncomms : 0,
		.cache = cache,
		.python_mode = o->python_mode,
		/* --gil keeps samples by it; --threads gives each thread's
		 * share; dump and top show the holder. */
		.gil = o->gil || o->threads || o->command == CMD_DUMP || o->command == CMD_TOP,
	};
}

void config_svg(struct svg_options *so, const struct options *o)
{
	*so = (struct svg_options){
		.title = o->title, .subtitle = o->subtitle, .width = o->width,
		.frame_height = o->frame_height, .minwidth = o->minwidth,
		.minwidth_percent = o->minwidth_percent, .inverted = o->inverted,
	};
	/* The name was checked when the options were parsed. */
	if (o->colors)
		svg_palette_parse(o->colors, &so->colors);
}
