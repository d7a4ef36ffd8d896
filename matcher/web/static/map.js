/* citytwin's map: real country shapes (Natural Earth, world-atlas TopoJSON) drawn with d3-geo.
 *
 * Every <svg class="worldmap" data-map="ID"> is drawn from the JSON in <script id="ID">:
 *   {panels: [{title, weight?}], cities: [{id, name, label?, country, lat, lon, role, panel, rank,
 *                                 colour, ink}],
 *    links: [{from, to, colour, rank}], legend: {title, low, high, stops} | null, roles: {...}}
 * Each panel gets its own projection fitted to its cities; a link inside a panel is a great
 * circle, a link between panels a curve across the gap. Labels are placed greedily, most
 * important first, at the first of eight positions that overlaps no placed label and no city;
 * a label that fits nowhere is left out (the rank in the city's circle still names it).
 * When done the svg carries data-drawn="1", data-countries (shapes drawn) and data-labels.
 */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var WIDTH = 960, MAX_HEIGHT = 560, MIN_HEIGHT = 300, LEGEND = 46, GAP = 56, PAD = 16;
  var HEIGHT = MAX_HEIGHT;  // set per map by layout(), before drawing it
  var atlases = {};

  function atlas(name) {
    // the country shapes: inline in a self-contained report, else from the server
    if (!atlases[name]) {
      var inline = document.getElementById("citytwin-atlas");
      var topology = inline ? Promise.resolve(JSON.parse(inline.textContent)) :
        fetch("/static/vendor/countries-" + name + ".json").then(function (r) {
          if (!r.ok) throw new Error("map data: " + r.status);
          return r.json();
        });
      atlases[name] = topology.then(function (t) {
        return topojson.feature(t, t.objects.countries).features;
      });
    }
    return atlases[name];
  }

  function el(tag, attrs, parent) {
    var node = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  function circularMeanLon(cities) {
    var s = 0, c = 0;
    cities.forEach(function (d) { s += Math.sin(d.lon * Math.PI / 180); c += Math.cos(d.lon * Math.PI / 180); });
    return Math.atan2(s, c) * 180 / Math.PI;
  }

  function boxes(panels) {
    // side by side, each as wide as its weight asks (default 1)
    var weights = panels.map(function (p) { return p.weight || 1; });
    var total = weights.reduce(function (a, b) { return a + b; }, 0);
    var room = WIDTH - GAP * (panels.length - 1), out = [], x0 = 0;
    weights.forEach(function (w) {
      var width = room * w / total;
      out.push({x0: x0, y0: 0, x1: x0 + width, y1: HEIGHT - LEGEND});
      x0 += width + GAP;
    });
    return out;
  }

  function framed(cities) {
    // a circle around each city, and the great circles between them (they bulge poleward)
    var radius = cities.length > 1 ? 1.5 : 4;  // degrees kept around each city
    var features = cities.map(function (d) {
      return {type: "Feature", geometry: d3.geoCircle().center([d.lon, d.lat]).radius(radius)()};
    });
    var query = cities.filter(function (d) { return d.role === "query"; })[0];
    if (query) {
      cities.forEach(function (d) {
        if (d !== query) features.push({type: "Feature", geometry: {type: "LineString",
          coordinates: [[query.lon, query.lat], [d.lon, d.lat]]}});
      });
    }
    return {type: "FeatureCollection", features: features};
  }

  function fitted(data, i) {
    // what a panel is fitted to: its cities, existing partners aside (they may be anywhere)
    var mine = data.cities.filter(function (d) { return (d.panel || 0) === i && d.role !== "partner"; });
    return mine.length ? mine : data.cities.filter(function (d) { return (d.panel || 0) === i; });
  }

  function fit(cities, box) {
    var projection = d3.geoNaturalEarth1().rotate([-circularMeanLon(cities), 0]);
    projection.fitExtent([[box.x0 + PAD + 30, box.y0 + PAD + 18], [box.x1 - PAD - 30, box.y1 - PAD]],
                         framed(cities));
    return projection;
  }

  function layout(data) {
    // the map's height: as tall as the widest-fitted panel needs, within MIN/MAX_HEIGHT
    var panels = data.panels.length ? data.panels : [{}], needed = MIN_HEIGHT, scale = 0;
    HEIGHT = MAX_HEIGHT;
    boxes(panels).forEach(function (box, i) {
      var cities = fitted(data, i);
      if (!cities.length) return;
      var projection = d3.geoNaturalEarth1().rotate([-circularMeanLon(cities), 0]);
      projection.fitWidth(box.x1 - box.x0 - 2 * PAD - 60, framed(cities));
      var b = d3.geoPath(projection).bounds(framed(cities));
      needed = Math.max(needed, b[1][1] - b[0][1] + 2 * PAD + 18 + LEGEND);
    });
    HEIGHT = Math.min(MAX_HEIGHT, Math.ceil(needed));
    boxes(panels).forEach(function (box, i) {
      var cities = fitted(data, i);
      if (cities.length) scale = Math.max(scale, fit(cities, box).scale());
    });
    return {height: HEIGHT, scale: scale};
  }

  function overlaps(a, b) {
    return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
  }

  function placeLabels(layer, items, obstacles, bounds) {
    var placed = [], shown = 0;
    items.forEach(function (item) {
      var text = el("text", {"class": "label " + item.role}, layer);
      text.textContent = item.text;
      var bb = text.getBBox(), w = bb.width, h = bb.height, r = item.r + 3;
      var near = [[r, h / 3], [-r - w, h / 3], [-w / 2, -r - 2], [-w / 2, r + h - 2],
                  [r - 2, -r], [r - 2, r + h - 4], [-r - w + 2, -r], [-r - w + 2, r + h - 4]];
      var far = [[3 * r, 2 * r + h], [3 * r, -2 * r], [-3 * r - w, 2 * r + h], [-3 * r - w, -2 * r],
             [3.5 * r, h / 3], [-3.5 * r - w, h / 3], [-w / 2, -3 * r], [-w / 2, 3 * r + h]];
      var spots = near.concat(far);
      for (var i = 0; i < spots.length; i++) {
        var x = item.x + spots[i][0], y = item.y + spots[i][1];
        var box = {x: x - 1, y: y - h + 3, w: w + 2, h: h};
        if (box.x < bounds.x0 || box.x + box.w > bounds.x1 || box.y < bounds.y0 ||
            box.y + box.h > bounds.y1) continue;
        var hit = placed.some(function (p) { return overlaps(p, box); }) ||
          obstacles.some(function (o) { return o.id !== item.id && overlaps(o, box); });
        if (!hit) {
          text.setAttribute("x", x.toFixed(1));
          text.setAttribute("y", y.toFixed(1));
          if (i >= near.length) {  // a far spot: a thin leader back to the city
            var lx = Math.min(Math.max(item.x, box.x), box.x + box.w);
            var ly = Math.min(Math.max(item.y, box.y), box.y + box.h);
            var leader = el("line", {x1: item.x, y1: item.y, x2: lx, y2: ly, "class": "leader"});
            layer.insertBefore(leader, layer.firstChild);
          }
          placed.push(box);
          shown += 1;
          return;
        }
      }
      layer.removeChild(text);
    });
    return shown;
  }

  function legend(svg, data) {
    var g = el("g", {"class": "legend", transform: "translate(0," + (HEIGHT - LEGEND + 12) + ")"}, svg);
    var x = 4;
    if (data.legend) {
      var id = svg.id + "-gradient";
      var grad = el("linearGradient", {id: id}, el("defs", {}, g));
      data.legend.stops.forEach(function (c, i) {
        el("stop", {offset: (100 * i / (data.legend.stops.length - 1)) + "%", "stop-color": c}, grad);
      });
      var title = el("text", {x: x, y: 10, "class": "legend-title"}, g);
      title.textContent = data.legend.title;
      x += title.getBBox().width + 10;
      var low = el("text", {x: x, y: 10, "class": "legend-value"}, g);
      low.textContent = data.legend.low.toFixed(1);
      x += low.getBBox().width + 4;
      el("rect", {x: x, y: 0, width: 150, height: 12, fill: "url(#" + id + ")", rx: 2}, g);
      x += 154;
      var high = el("text", {x: x, y: 10, "class": "legend-value"}, g);
      high.textContent = data.legend.high.toFixed(1);
      x += high.getBBox().width + 24;
    }
    var roles = data.roles || {};
    Object.keys(roles).forEach(function (role) {
      marker(g, role, x + 7, 6, role === "match" ? "#3b528b" : null, role === "match" && data.legend ? "1" : "");
      var t = el("text", {x: x + 18, y: 10, "class": "legend-value"}, g);
      t.textContent = roles[role];
      x += 26 + t.getBBox().width + 14;
    });
  }

  function radius(role) {
    return {query: 8, match: 9, partner: 3.2, candidate: 2.6}[role] || 3;
  }

  function marker(layer, role, x, y, colour, rank, ink) {
    var r = radius(role);
    if (role === "query") {
      el("circle", {cx: x, cy: y, r: r, "class": "city query"}, layer);
      el("circle", {cx: x, cy: y, r: 3, "class": "city query-dot"}, layer);
    } else {
      el("circle", {cx: x, cy: y, r: r, "class": "city " + role, fill: colour || "#888"}, layer);
      if (role === "match" && rank) {
        var t = el("text", {x: x, y: y + 3.5, "class": "rank-number", fill: ink || "#fff"}, layer);
        t.textContent = rank;
      }
    }
    return r;
  }

  function draw(svg, data, features) {
    var panels = data.panels.length ? data.panels : [{title: ""}];
    var areas = boxes(panels), projections = [];
    var byId = {}, countries = 0;
    data.cities.forEach(function (d) { byId[d.id] = d; });
    var defs = el("defs", {}, svg);
    panels.forEach(function (panel, i) {
      var box = areas[i];
      var mine = fitted(data, i);
      var projection = fit(mine.length ? mine : data.cities, box);
      projections.push(projection);
      var clip = svg.id + "-clip-" + i;
      el("rect", {x: box.x0, y: box.y0, width: box.x1 - box.x0, height: box.y1 - box.y0},
         el("clipPath", {id: clip}, defs));
      var g = el("g", {"class": "panel", "clip-path": "url(#" + clip + ")"}, svg);
      el("rect", {x: box.x0, y: box.y0, width: box.x1 - box.x0, height: box.y1 - box.y0,
                  "class": "ocean"}, g);
      var path = d3.geoPath(projection);
      el("path", {d: path(d3.geoGraticule10()), "class": "graticule"}, g);
      features.forEach(function (f) {
        var d = path(f);
        if (d) {
          el("path", {d: d, "class": "country", "data-name": (f.properties || {}).name || ""}, g);
          countries += 1;
        }
      });
      el("rect", {x: box.x0 + 0.5, y: box.y0 + 0.5, width: box.x1 - box.x0 - 1,
                  height: box.y1 - box.y0 - 1, "class": "frame"}, svg);
      if (panel.title) {
        var t = el("text", {x: box.x0 + 8, y: box.y0 + 18, "class": "panel-title"}, svg);
        t.textContent = panel.title;
      }
    });
    function at(d) { return projections[d.panel || 0]([d.lon, d.lat]); }
    var linkLayer = el("g", {"class": "links" + (data.links.length > 20 ? " many" : "")}, svg);
    data.links.forEach(function (link) {
      var a = byId[link.from], b = byId[link.to];
      if (!a || !b) return;
      var d;
      if ((a.panel || 0) === (b.panel || 0)) {
        d = d3.geoPath(projections[a.panel || 0])({type: "LineString",
                                                   coordinates: [[a.lon, a.lat], [b.lon, b.lat]]});
      } else {
        var pa = at(a), pb = at(b), mx = (pa[0] + pb[0]) / 2, my = Math.min(pa[1], pb[1]) - 40;
        d = "M" + pa[0].toFixed(1) + "," + pa[1].toFixed(1) + " Q" + mx.toFixed(1) + "," +
            my.toFixed(1) + " " + pb[0].toFixed(1) + "," + pb[1].toFixed(1);
      }
      if (d) el("path", {d: d, "class": "link", stroke: link.colour || "#555",
                         "data-link": link.from + "-" + link.to}, linkLayer);
    });
    var cityLayer = el("g", {"class": "cities"}, svg);
    var order = {candidate: 0, partner: 1, match: 2, query: 3};
    var drawn = data.cities.slice().sort(function (a, b) {
      return (order[a.role] - order[b.role]) || ((b.rank || 0) - (a.rank || 0));
    });
    var obstacles = [], labels = [];
    drawn.forEach(function (d) {
      var p = at(d);
      if (!p) return;
      var r = marker(cityLayer, d.role, p[0], p[1], d.colour, d.rank, d.ink);
      obstacles.push({id: d.id, x: p[0] - r, y: p[1] - r, w: 2 * r, h: 2 * r});
      if (d.role === "query" || d.role === "match") {
        labels.push({id: d.id, x: p[0], y: p[1], r: r, role: d.role,
                     text: d.label || d.name, priority: d.role === "query" ? 0 : (d.rank || 1)});
      }
    });
    labels.sort(function (a, b) { return a.priority - b.priority; });
    var shown = placeLabels(el("g", {"class": "labels"}, svg), labels, obstacles,
                            {x0: 0, y0: 0, x1: WIDTH, y1: HEIGHT - LEGEND});
    legend(svg, data);
    svg.setAttribute("data-countries", String(countries));
    svg.setAttribute("data-labels", String(shown));
    svg.setAttribute("data-drawn", "1");
  }

  function start() {
    var maps = Array.prototype.slice.call(document.querySelectorAll("svg.worldmap"));
    maps.forEach(function (svg) {
      var data = JSON.parse(document.getElementById(svg.getAttribute("data-map")).textContent);
      var shape = layout(data);
      atlas(shape.scale > 500 ? "50m" : "110m").then(function (features) {
        HEIGHT = layout(data).height;
        svg.setAttribute("viewBox", "0 0 " + WIDTH + " " + HEIGHT);
        draw(svg, data, features);
      }).catch(function (error) {
        svg.setAttribute("data-error", String(error));
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
