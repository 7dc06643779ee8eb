// Staff profile form (Django admin): choosing a role template prefills the flags; after that each flag is
// edited on its own. Flags the signed-in admin may not grant are read-only and have no checkbox to fill.
(function () {
  "use strict";
  var data = document.getElementById("staff-template-flags");
  var role = document.getElementById("id_role");
  if (!data || !role) { return; }
  var flags = JSON.parse(data.textContent);
  role.addEventListener("change", function () {
    var chosen = flags[role.value];
    if (!chosen) { return; }
    Object.keys(chosen).forEach(function (name) {
      var box = document.getElementById("id_" + name);
      if (box) { box.checked = chosen[name]; }
    });
  });
})();
