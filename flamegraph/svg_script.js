"use strict";
var S = {};
function fgInit() {
	S.frames = [].slice.call(document.querySelectorAll("g.f"));
	S.details = document.getElementById("details").firstChild;
	S.matched = document.getElementById("matched").firstChild;
	S.unzoom = document.getElementById("unzoom");
	S.search = document.getElementById("search");
	S.ic = document.getElementById("ignorecase");
	S.zoomed = null; S.term = null; S.icase = false;
	S.frames.forEach(function (g) {
		var t = g.querySelector("title").textContent;
		var nl = t.indexOf("\n");
		/* A second line is the full C++ signature: the name and counts
		 * are on the first. */
		if (nl >= 0) t = t.substring(0, nl) + " \u2014 " + t.substring(nl + 1);
		g._x = +g.getAttribute("fg:x"); g._w = +g.getAttribute("fg:w");
		g._d = +g.getAttribute("fg:d");
		var first = nl >= 0 ? t.substring(0, nl) : t;
		g._name = first.substring(0, first.lastIndexOf(" ("));
		g._rect = g.querySelector("rect"); g._text = g.querySelector("text");
		g._fill = g._rect.getAttribute("fill");
		g.addEventListener("mouseover", function () { S.details.nodeValue = t; });
		g.addEventListener("mouseout", function () { S.details.nodeValue = " "; });
		g.addEventListener("click", function () { S.zoomed = g; layout(); save(); });
	});
	S.unzoom.addEventListener("click", function () { S.zoomed = null; layout(); save(); });
	S.search.addEventListener("click", ask);
	S.ic.addEventListener("click", function () {
		S.icase = !S.icase; mark(); save();
	});
	window.addEventListener("keydown", function (e) {
		if ((e.ctrlKey || e.metaKey) && (e.key === "f" || e.key === "F")) {
			e.preventDefault(); ask();
		}
	});
	var p = new URLSearchParams(window.location.search);
	if (p.get("i") === "1") S.icase = true;
	if (p.has("x") && p.has("d")) {
		S.frames.forEach(function (g) {
			if (g.getAttribute("fg:x") === p.get("x") &&
			    g.getAttribute("fg:d") === p.get("d")) S.zoomed = g;
		});
	}
	if (p.has("s")) S.term = p.get("s");
	layout();
}
function label(g, w) {
	var fit = Math.floor(w / (FG.fontsize * 0.59));
	if (fit < 3) return "";
	return g._name.length <= fit ? g._name : g._name.substring(0, fit - 2) + "..";
}
function layout() {
	var z = S.zoomed, span = FG.width - 2 * FG.pad;
	var zx = z ? z._x : 0, zw = z ? z._w : FG.total, zd = z ? z._d : 0;
	var eps = FG.total * 1e-12;
	S.frames.forEach(function (g) {
		var x, w, inside = g._d >= zd && g._x >= zx - eps && g._x + g._w <= zx + zw + eps;
		var above = g._d < zd && g._x <= zx + eps && g._x + g._w >= zx + zw - eps;
		g.classList.remove("parent");
		if (inside) {
			x = FG.pad + (g._x - zx) / zw * span; w = g._w / zw * span;
		} else if (above) {
			x = FG.pad; w = span; g.classList.add("parent");
		} else {
			g.style.display = "none"; return;
		}
		g.style.display = "";
		g._rect.setAttribute("x", x.toFixed(2)); g._rect.setAttribute("width", w.toFixed(2));
		g._text.setAttribute("x", (x + 3).toFixed(2));
		g._text.textContent = label(g, w);
	});
	S.unzoom.classList.toggle("hide", !z);
	mark();
}
function ask() {
	var t = window.prompt("Search for (regular expression):", S.term || "");
	if (t === null) return;
	S.term = t === "" ? null : t; mark(); save();
}
function mark() {
	var re = null, hits = [];
	S.ic.classList.toggle("on", S.icase);
	if (S.term !== null) {
		try { re = new RegExp(S.term, S.icase ? "i" : ""); }
		catch (e) { S.matched.nodeValue = "invalid regular expression"; re = null; }
	}
	S.frames.forEach(function (g) {
		var on = re !== null && re.test(g._name);
		g._rect.setAttribute("fill", on ? "rgb(230,0,230)" : g._fill);
		if (on) hits.push(g);
	});
	if (re === null) {
		if (S.term === null) S.matched.nodeValue = " ";
		S.search.classList.remove("on");
		return;
	}
	/* Nested matches lie inside their matched ancestor: count each span once. */
	hits.sort(function (a, b) { return a._x - b._x || b._w - a._w; });
	var sum = 0, end = -Infinity;
	hits.forEach(function (g) {
		if (g._x >= end) { sum += g._w; end = g._x + g._w; }
	});
	S.search.classList.add("on");
	S.matched.nodeValue = "Matched: " + (100 * sum / FG.total).toFixed(1) + "%";
}
function save() {
	var p = new URLSearchParams();
	if (S.zoomed) { p.set("x", S.zoomed.getAttribute("fg:x")); p.set("d", S.zoomed.getAttribute("fg:d")); }
	if (S.term !== null) p.set("s", S.term);
	if (S.icase) p.set("i", "1");
	var q = p.toString();
	try {
		window.history.replaceState(null, "", q ? "?" + q : window.location.pathname);
	} catch (e) { /* file: URLs may refuse; the view still works */ }
}
window.addEventListener("load", fgInit);
