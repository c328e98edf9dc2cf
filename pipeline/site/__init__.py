"""The site stage: content/ -> the static site (site/), built incrementally.

Where things are (start with :mod:`pipeline.site.build`, which explains how a build works):

- ``build``: the incremental build (page hashes, manifest, writes, staging folder);
- ``generators``: the list of page generators, in build order (how to add one);
- ``model``: the :class:`~pipeline.site.model.Site` loaded from content/, pages, links and URLs;
- ``paragraphs``: an episode's transcript as paragraphs with anchors, display names, quotes;
- ``templating``: the Jinja2 environment, Markdown, the templates' hash;
- one module per page kind: ``episodes``, ``papers``, ``posters``, ``people``, ``indexes`` (home,
  lists, search page, 404), ``papermap``, ``reports``, ``feeds`` (feed and sitemap), ``static``;
- blocks of pages: ``timeline`` (an episode's speakers), ``related`` (the paper space, related papers);
- ``searchdocs`` (what each page puts in the search index), ``search`` (recap's own static index)
  and ``tokens`` (its tokenizer, mirrored by ``templates/static/search.js``);
- ``serve``: the preview server (``recap serve``).
"""
