// hotspy's pprof output imported by speedscope (its own release build,
// the npm package tests/browser installs) in headless chromium: the file
// loads without an error, and speedscope's Sandwich table gives the same
// functions with the same self shares as `hotspy report` on the same file.
//
// usage: node speedscope_pprof_test.js HOTSPY FIXTURE_DIR
// Exit 77 when chromium, playwright-core or speedscope is missing.
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { execFileSync } = require("child_process");

const CHROMIUM = "/usr/bin/chromium";
const SPEEDSCOPE = path.join(__dirname, "node_modules", "speedscope", "dist", "release",
			     "index.html");
let chromium;
try {
	chromium = require("playwright-core").chromium;
} catch (e) {
	console.log("skip: playwright-core missing (run npm ci in tests/browser)");
	process.exit(77);
}
for (const f of [CHROMIUM, SPEEDSCOPE]) {
	if (!fs.existsSync(f)) {
		console.log("skip: " + f + " missing (scripts/setup.sh --tests installs it)");
		process.exit(77);
	}
}

let failures = 0;
function check(cond, what) {
	if (!cond) {
		console.log("FAIL: " + what);
		failures++;
	}
}

// "630.00ms (68%)" -> 68; "0.00ns (<0.01%)" -> 0.
function percent(cell) {
	const m = /\((<)?([\d.]+)%\)/.exec(cell);
	return m ? (m[1] ? 0 : parseFloat(m[2])) : NaN;
}

async function main() {
	const [hotspy, fixtures] = process.argv.slice(2);
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hotspy-speedscope-"));
	const file = path.join(dir, "hotspots.pb.gz");
	execFileSync(hotspy, ["record", "-q", "-r", "200", "-o", file, "--",
			      path.join(fixtures, "hotspots"), "1.5"], { stdio: "inherit" });
	const report = JSON.parse(execFileSync(hotspy, ["report", "--json", "--top", "0", file]));
	const ours = {};
	for (const row of report.rows)
		ours[row.name] = row.self_share;

	const browser = await chromium.launch({ executablePath: CHROMIUM,
						args: ["--headless", "--no-sandbox"] });
	const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
	const errors = [];
	page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
	page.on("pageerror", (e) => errors.push(String(e)));
	page.on("dialog", async (d) => { errors.push("dialog: " + d.message()); await d.dismiss(); });
	await page.goto("file://" + SPEEDSCOPE);
	const input = await page.waitForSelector("input[type=file]", { state: "attached" });
	await input.setInputFiles(file);
	await page.waitForFunction(() => document.title.startsWith("hotspots.pb.gz"),
				   null, { timeout: 15000 }).catch(() => {});
	check((await page.title()).startsWith("hotspots.pb.gz"),
	      "speedscope loaded the file (title: " + (await page.title()) + ")");
	await page.click("text=Sandwich");
	await page.waitForSelector("text=Symbol Name", { timeout: 10000 }).catch(() => {});
	// The table's rows: total, self, name.
	const rows = await page.evaluate(() => [...document.querySelectorAll("tr")].map(
		(tr) => [...tr.querySelectorAll("td")].map((td) => td.innerText.trim()))
		.filter((cells) => cells.length >= 3));
	const theirs = {};
	for (const [, self, name] of rows)
		theirs[name] = percent(self);
	console.log("speedscope:", JSON.stringify(theirs));
	console.log("report:    ", JSON.stringify(ours));
	check(rows.length > 0, "the Sandwich table has rows");
	const hot = Object.keys(ours).filter((n) => ours[n] >= 5);
	check(hot.length > 0, "report has functions of 5 % self and more");
	for (const name of hot)
		check(name in theirs && Math.abs(theirs[name] - ours[name]) <= 1.0,
		      name + ": self " + theirs[name] + " % in speedscope, " +
		      ours[name].toFixed(2) + " % in hotspy report");
	for (const name of Object.keys(theirs))
		check(name in ours, name + " is in speedscope's table, not in hotspy report's");
	check(errors.length === 0, "no errors: " + errors.join("; "));
	await browser.close();
	fs.rmSync(dir, { recursive: true, force: true });
	return failures ? 1 : 0;
}

main().then((rc) => {
	console.log(rc ? failures + " failure(s)" : "PASS");
	process.exit(rc);
}, (e) => {
	console.log("FAIL: " + e);
	process.exit(1);
});
