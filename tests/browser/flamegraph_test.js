// The SVG flamegraph in a real browser (headless chromium): the tooltip of
// the hottest frame, click-zoom and Reset Zoom, search and "Matched", the URL
// state, and no console errors.
//
// usage: node flamegraph_test.js HOTSPY FIXTURE_DIR [SCREENSHOT.png]
// Exit 77 when chromium or playwright-core is missing.
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { execFileSync } = require("child_process");

const CHROMIUM = "/usr/bin/chromium";
let chromium;
try {
	chromium = require("playwright-core").chromium;
} catch (e) {
	console.log("skip: playwright-core missing (run npm ci in tests/browser)");
	process.exit(77);
}
if (!fs.existsSync(CHROMIUM)) {
	console.log("skip: " + CHROMIUM + " missing (apt-get install chromium)");
	process.exit(77);
}

let failures = 0;
function check(cond, what) {
	if (!cond) {
		console.log("FAIL: " + what);
		failures++;
	}
}

async function main() {
	const [hotspy, fixtures, shot] = process.argv.slice(2);
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hotspy-browser-"));
	// No -o: the default name is PROGRAM-DATE.svg.
	execFileSync(hotspy, ["record", "-q", "-d", "2", "--", path.join(fixtures, "hotspots")],
		     { cwd: dir, stdio: "inherit" });
	const svgs = fs.readdirSync(dir).filter((f) => /^hotspots-\d{8}-\d{6}\.svg$/.test(f));
	check(svgs.length === 1, "record wrote PROGRAM-DATE.svg: " + fs.readdirSync(dir));
	if (svgs.length !== 1)
		return 1;
	const file = path.join(dir, svgs[0]);

	const browser = await chromium.launch({ executablePath: CHROMIUM,
						args: ["--headless", "--no-sandbox"] });
	const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
	const errors = [];
	page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
	page.on("pageerror", (e) => errors.push(String(e)));
	await page.goto("file://" + file);

	// The hottest path: from the root, always the widest child.
	const hot = await page.evaluate(() => {
		const fr = [...document.querySelectorAll("g.f")].map((g) => ({
			x: +g.getAttribute("fg:x"), w: +g.getAttribute("fg:w"),
			d: +g.getAttribute("fg:d"), title: g.querySelector("title").textContent }));
		let cur = fr.find((f) => f.d === 0), path = [cur];
		for (;;) {
			const kids = fr.filter((f) => f.d === cur.d + 1 && f.x >= cur.x &&
					       f.x + f.w <= cur.x + cur.w + 1e-9);
			if (!kids.length) break;
			cur = kids.reduce((a, b) => (b.w > a.w ? b : a));
			path.push(cur);
		}
		return path;
	});
	check(hot.length >= 3, "a path of frames below the root");
	const leaf = hot[hot.length - 1];
	const sel = (f) => `g.f[fg\\:x="${f.x}"][fg\\:d="${f.d}"]`;
	const leafSel = `g.f >> nth=${await page.evaluate(({ x, d }) =>
		[...document.querySelectorAll("g.f")].findIndex((g) =>
			+g.getAttribute("fg:x") === x && +g.getAttribute("fg:d") === d), leaf)}`;
	void sel;
	await page.hover(leafSel, { force: true });
	const details = await page.textContent("#details");
	check(/^\S.* \(\d+ samples, \d+\.\d\d%\)( in \S+)?( at \S+)?$/.test(details),
	      "tooltip text: " + details);
	// The fixture's own code: the tooltip names its module.
	check(/ in hotspots( at |$)/.test(details), "tooltip names the module: " + details);
	check(details === leaf.title, "tooltip is the hottest frame's: " + details);
	const name = leaf.title.substring(0, leaf.title.lastIndexOf(" ("));
	console.log("hottest frame: " + details);

	// Click-zoom on the frame under the root's widest child.
	const z = hot[2];
	const zIndex = await page.evaluate(({ x, d }) =>
		[...document.querySelectorAll("g.f")].findIndex((g) =>
			+g.getAttribute("fg:x") === x && +g.getAttribute("fg:d") === d), z);
	await page.click(`g.f >> nth=${zIndex}`, { force: true });
	const zoomed = await page.evaluate((i) => {
		const g = document.querySelectorAll("g.f")[i];
		const root = [...document.querySelectorAll("g.f")].find((f) => f.getAttribute("fg:d") === "0");
		return { w: +g.querySelector("rect").getAttribute("width"),
			 rootParent: root.classList.contains("parent"),
			 unzoom: !document.getElementById("unzoom").classList.contains("hide"),
			 url: location.search };
	}, zIndex);
	check(Math.abs(zoomed.w - 1180) < 0.5, "zoomed frame spans the width: " + zoomed.w);
	check(zoomed.rootParent, "ancestors kept, dimmed");
	check(zoomed.unzoom, "Reset Zoom shown");
	check(/[?&]x=/.test(zoomed.url), "zoom kept in the URL: " + zoomed.url);
	await page.click("#unzoom");
	const reset = await page.evaluate(() =>
		document.getElementById("unzoom").classList.contains("hide"));
	check(reset, "Reset Zoom hides itself");

	// Search with the button, then Ctrl-F.
	const term = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
	page.once("dialog", (d) => d.accept(term));
	await page.click("#search");
	let matched = await page.textContent("#matched");
	const pct = /^Matched: (\d+\.\d)%$/.exec(matched);
	check(pct && +pct[1] > 0 && +pct[1] <= 100, "Matched text: " + matched);
	check((await page.evaluate(() => location.search)).includes("s="), "search kept in the URL");
	page.once("dialog", (d) => d.accept("^all$"));
	await page.keyboard.press("Control+f");
	matched = await page.textContent("#matched");
	check(matched === "Matched: 100.0%", "Ctrl-F search of the root: " + matched);
	// Nested matches are not counted twice: every frame matches, still 100 %.
	page.once("dialog", (d) => d.accept("."));
	await page.click("#search");
	matched = await page.textContent("#matched");
	check(matched === "Matched: 100.0%", "nested matches counted once: " + matched);
	// The URL brings the search back.
	await page.goto("file://" + file + "?s=" + encodeURIComponent(term));
	matched = await page.textContent("#matched");
	check(/^Matched: \d+\.\d%$/.test(matched), "search restored from the URL: " + matched);
	page.once("dialog", (d) => d.accept(term));
	await page.click("#search");
	if (shot)
		await page.screenshot({ path: shot });
	check(errors.length === 0, "no console errors: " + errors.join(" | "));
	await browser.close();
	fs.rmSync(dir, { recursive: true, force: true });
	return failures ? 1 : 0;
}

main().then((rc) => process.exit(rc), (e) => { console.log("FAIL: " + e); process.exit(1); });
