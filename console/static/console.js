// Progressive enhancement: draws the dashboard's charts from the figures the page carries
// (the same figures as its tables). Without script, the tables still show everything.
(function () {
  var data = document.getElementById("sales-data");
  var node = document.getElementById("sales-chart");
  if (!data || !node || !window.echarts) return;
  var chart = JSON.parse(data.textContent);
  window.echarts.init(node).setOption({
    tooltip: { trigger: "axis" },
    legend: {},
    xAxis: { type: "category", data: chart.months },
    yAxis: { type: "value" },
    series: chart.series.map(function (s) {
      return { name: s.name, type: "bar", data: s.data.map(Number) };
    }),
  });
})();
