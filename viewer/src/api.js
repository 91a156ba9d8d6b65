// Where the mod_h5s3 API lives, and the one listing call the page makes
// itself (H5Web's H5GroveProvider makes the h5grove calls).

// ?api=URL (absolute or relative to the page) picks the <Location> that has
// `SetHandler h5s3`; by default the page at /viewer/ talks to /hdf.
export function apiBase(location = window.location) {
  const given = new URLSearchParams(location.search).get('api');
  const url = new URL(given || '../hdf', location.href);
  return url.href.replace(/\/+$/, '');
}

const HDF5_KEY = /\.(h5|hdf5|hdf|he5|nc|nc4|nxs|cxi)$/i;

export function isHdf5Key(key) {
  return HDF5_KEY.test(key);
}

// The bucket's files (GET <base>/files), folders left out.
export async function listFiles(base, signal) {
  const resp = await fetch(`${base}/files?include_folders=false`, { signal });
  let body;
  try {
    body = await resp.json();
  } catch {
    throw new Error(`${base}/files answered ${resp.status}, not JSON`);
  }
  if (!resp.ok || body.success === false) {
    throw new Error(body.error || `${base}/files answered ${resp.status}`);
  }
  return {
    files: body.files.filter((f) => f.type === 'file'),
    truncated: Boolean(body.truncated),
  };
}

export function formatSize(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}
