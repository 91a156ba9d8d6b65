import { App as H5Web, H5GroveProvider } from '@h5web/app';
import { useEffect, useMemo, useState } from 'react';

import { apiBase, formatSize, isHdf5Key, listFiles } from './api';

// The opened file is kept in the page's URL (?file=KEY) so a view can be
// bookmarked, shared and reloaded.
function fileFromUrl() {
  return new URLSearchParams(window.location.search).get('file');
}

function rememberFile(key) {
  const url = new URL(window.location.href);
  url.searchParams.set('file', key);
  window.history.replaceState(null, '', url);
}

function FileList({ files, selected, onSelect }) {
  if (files.length === 0) {
    return <p className="viewer-note">No files here.</p>;
  }
  return (
    <ul className="viewer-files" data-testid="file-list">
      {files.map((f) => (
        <li key={f.key}>
          <button
            type="button"
            className={f.key === selected ? 'viewer-file selected' : 'viewer-file'}
            data-testid="file-item"
            data-key={f.key}
            title={f.key}
            onClick={() => onSelect(f.key)}
          >
            <span className="viewer-file-key">{f.key}</span>
            <span className="viewer-file-size">{formatSize(f.size)}</span>
          </button>
        </li>
      ))}
    </ul>
  );
}

export default function Viewer() {
  const base = useMemo(() => apiBase(), []);
  const [listing, setListing] = useState(null);
  const [error, setError] = useState(null);
  const [showAll, setShowAll] = useState(false);
  const [filter, setFilter] = useState('');
  const [selected, setSelected] = useState(fileFromUrl);

  useEffect(() => {
    const ctrl = new AbortController();
    listFiles(base, ctrl.signal).then(setListing, (e) => {
      if (!ctrl.signal.aborted) setError(e.message);
    });
    return () => ctrl.abort();
  }, [base]);

  const shown = useMemo(() => {
    if (!listing) return [];
    const needle = filter.trim().toLowerCase();
    return listing.files.filter(
      (f) =>
        (showAll || isHdf5Key(f.key)) &&
        (!needle || f.key.toLowerCase().includes(needle)),
    );
  }, [listing, showAll, filter]);

  function select(key) {
    setSelected(key);
    rememberFile(key);
  }

  return (
    <div className="viewer">
      <aside className="viewer-side">
        <h1 className="viewer-title">HDF5 files</h1>
        <p className="viewer-api" title="API base">{base}</p>
        <input
          type="search"
          className="viewer-filter"
          placeholder="Filter by name"
          aria-label="Filter files by name"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
        />
        <label className="viewer-all">
          <input
            type="checkbox"
            checked={showAll}
            onChange={(e) => setShowAll(e.target.checked)}
          />
          all files, not only HDF5
        </label>
        {error && (
          <p className="viewer-error" role="alert">
            Cannot list files: {error}
          </p>
        )}
        {!error && !listing && <p className="viewer-note">Loading…</p>}
        {listing && (
          <>
            <FileList files={shown} selected={selected} onSelect={select} />
            {listing.truncated && (
              <p className="viewer-note">The listing was cut short.</p>
            )}
          </>
        )}
      </aside>
      <main className="viewer-main" data-testid="h5web">
        {selected ? (
          // key: a new file gets a fresh H5Web (explorer state, caches).
          <H5GroveProvider key={selected} url={`${base}/h5grove`} filepath={selected}>
            <H5Web />
          </H5GroveProvider>
        ) : (
          <p className="viewer-note viewer-hint">Pick a file on the left.</p>
        )}
      </main>
    </div>
  );
}
