/* Filter forms: the four weight boxes write the one `weigh` field (the CLI's --weigh syntax, the
 * parameter the URL carries) and read it back when it is edited; the themes field suggests the
 * model's themes after each comma. Without JavaScript the `weigh` text field works alone. */
(function () {
  "use strict";
  var each = function (list, f) { Array.prototype.forEach.call(list, f); };
  each(document.querySelectorAll("form.filters"), function (form) {
    var text = form.querySelector("input[name=weigh]");
    var boxes = form.querySelectorAll("input[data-weigh]");
    if (text && boxes.length) {
      each(boxes, function (box) {
        box.addEventListener("input", function () {
          var parts = [];
          each(boxes, function (b) {
            if (b.value !== "") parts.push(b.getAttribute("data-weigh") + "=" + b.value);
          });
          text.value = parts.join(",");
        });
      });
      text.addEventListener("input", function () {
        var given = {};
        text.value.split(",").forEach(function (part) {
          var kv = part.split("=");
          if (kv.length === 2) given[kv[0].trim().toLowerCase()] = kv[1].trim();
        });
        each(boxes, function (b) {
          var v = given[b.getAttribute("data-weigh")];
          b.value = v === undefined ? "" : v;
        });
      });
    }
    var themes = form.querySelector("input[name=theme][list]");
    var list = themes && document.getElementById(themes.getAttribute("list"));
    if (list) {
      var names = Array.prototype.map.call(list.options, function (o) { return o.value; });
      themes.addEventListener("input", function () {
        var cut = themes.value.lastIndexOf(",");
        var head = cut < 0 ? "" : themes.value.slice(0, cut + 1) + " ";
        list.textContent = "";
        names.forEach(function (name) {
          var option = document.createElement("option");
          option.value = head + name;
          list.appendChild(option);
        });
      });
    }
  });
})();
