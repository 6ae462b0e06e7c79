() => {
  // gr.Plot draws only a figure's data and layout; the 3-D view (app/scene3d.py) carries its
  // animation frames in layout.meta.unihm_frames. Hand them to Plotly once per drawn figure, so
  // the slider and the Play button move the scene; the plot is then marked data-unihm-frames="N".
  const KEY = "unihm_frames";
  const attach = () => {
    const Plotly = window.Plotly;
    if (!Plotly) return;
    document.querySelectorAll(".js-plotly-plot").forEach((gd) => {
      const meta = gd.layout && gd.layout.meta;
      const frames = meta && meta[KEY];
      if (!Array.isArray(frames) || gd._unihmFrames === frames) return;
      gd._unihmFrames = frames;
      gd.removeAttribute("data-unihm-frames");
      Promise.resolve(Plotly.deleteFrames(gd))
        .then(() => Plotly.addFrames(gd, frames))
        .then(() => gd.setAttribute("data-unihm-frames", String(frames.length)))
        .catch((err) => console.warn("unihm: could not add the 3-D view's frames", err));
    });
  };
  setInterval(attach, 500);
}
