// The new-requisite form: the bank list shows only banks of the chosen currency, the method list only
// what the chosen bank offers (the server checks the same and reports every problem at once).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-requisite-form]");
    var source = document.getElementById("requisite-choices");
    if (!form || !source) { return; }
    var map = JSON.parse(source.textContent);
    var fiat = form.querySelector("select[name=fiat]");
    var bank = form.querySelector("select[name=bank]");
    var method = form.querySelector("select[name=method]");

    function limit(select, allowed) {
      if (!select) { return; }
      Array.prototype.forEach.call(select.options, function (option) {
        if (!option.value) { return; }
        var ok = allowed === null || allowed.indexOf(Number(option.value)) !== -1;
        option.hidden = !ok;
        option.disabled = !ok;
        if (!ok && option.selected) { select.value = ""; }
      });
    }

    function update() {
      limit(bank, fiat && fiat.value ? (map.banks_of_currency[fiat.value] || []) : null);
      limit(method, bank && bank.value ? (map.methods_of_bank[bank.value] || []) : null);
    }

    if (fiat) { fiat.addEventListener("change", update); }
    if (bank) { bank.addEventListener("change", update); }
    update();
  });
})();
