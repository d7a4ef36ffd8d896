/* The search box: suggestions from /api/cities as the user types (text inserted as text, never
 * as HTML); arrow keys and Enter choose; without JavaScript the form goes to /search. Also keeps
 * empty filter fields out of the URL. */
(function () {
  "use strict";
  function setup(form) {
    var input = form.querySelector("input[data-suggest]");
    var list = form.querySelector(".suggestions");
    var timer = null, items = [], active = -1, asked = 0;

    function close() { list.hidden = true; active = -1; }
    function choose(i) { if (items[i]) window.location.href = "/city/" + items[i].geonameid; }
    function highlight() {
      Array.prototype.forEach.call(list.children, function (li, i) {
        li.classList.toggle("active", i === active);
      });
    }
    function show(cities) {
      items = cities;
      list.textContent = "";
      cities.forEach(function (c, i) {
        var li = document.createElement("li");
        li.setAttribute("role", "option");
        var name = document.createElement("b");
        name.textContent = c.name;
        var rest = document.createElement("span");
        rest.textContent = ", " + (c.country_name || c.country_code) +
          (c.admin1 ? " (" + c.admin1 + ")" : "") + " · " + c.population.toLocaleString("en") +
          (c.match === "ambiguous" ? " · which one?" : "") +
          (c.match === "outside" ? " · ranked as one more city of the index" : "");
        li.appendChild(name);
        li.appendChild(rest);
        li.addEventListener("mousedown", function (e) { e.preventDefault(); choose(i); });
        list.appendChild(li);
      });
      list.hidden = cities.length === 0;
      active = -1;
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var q = input.value.trim();
      if (!q) { close(); return; }
      timer = setTimeout(function () {
        var ticket = ++asked;
        fetch(input.getAttribute("data-suggest") + "?q=" + encodeURIComponent(q))
          .then(function (r) { return r.ok ? r.json() : {cities: []}; })
          .then(function (body) { if (ticket === asked) show(body.cities || []); })
          .catch(function () { close(); });
      }, 150);
    });
    input.addEventListener("keydown", function (e) {
      if (list.hidden) return;
      if (e.key === "ArrowDown") { active = Math.min(active + 1, items.length - 1); highlight(); e.preventDefault(); }
      else if (e.key === "ArrowUp") { active = Math.max(active - 1, 0); highlight(); e.preventDefault(); }
      else if (e.key === "Enter" && active >= 0) { choose(active); e.preventDefault(); }
      else if (e.key === "Escape") { close(); }
    });
    input.addEventListener("blur", function () { setTimeout(close, 100); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("form.search"), setup);
  // Filter forms leave their empty fields out of the URL: a link shows only what was set.
  Array.prototype.forEach.call(document.querySelectorAll("form.filters"), function (form) {
    form.addEventListener("submit", function () {
      Array.prototype.forEach.call(form.elements, function (field) {
        if (field.name && field.value === "" && field.type !== "checkbox") field.disabled = true;
      });
    });
    window.addEventListener("pageshow", function () {  // back to a page kept in memory
      Array.prototype.forEach.call(form.elements, function (field) { field.disabled = false; });
    });
  });
})();
