"""The parts every page is built from, drawn with st: a model's and a training's settings as widgets
(model_controls, training_ui), settings in the address bar and the links that open a page on a run
(urlstate, links), a stage's presets, a long page's outline (sections), the results of a training and
what they are compared with (results, references), the model views (model_views), the dataset picker
(datasets_ui), small shared widgets (widgets), and the Compare page's numbers and model import
(comparison, model_import). The charts they draw are in app/charts.py."""
