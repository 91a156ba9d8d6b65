/*
 * DeltaGlider core: the on-S3 format (docs/deltaglider-format.md) read
 * natively.  Logical listing, metadata, savings, streaming reconstruction
 * with xdelta3 and SHA-256 verification, and uploads the way DeltaGlider
 * stores them.  Everything here is what a command-line tool would need;
 * the /api routes are glue on top.
 *
 * This header gathers the DeltaGlider headers for the glue and the tools;
 * the core's own files include the ones they use.
 */
#ifndef H5S3_DG_H
#define H5S3_DG_H

#include "dg/h5s3_dg_keys.h"
#include "dg/h5s3_dg_meta.h"
#include "dg/h5s3_dg_store.h"
#include "dg/h5s3_dg_catalog.h"
#include "dg/h5s3_dg_savings.h"
#include "dg/h5s3_dg_vcdiff.h"
#include "dg/h5s3_dg_codec.h"
#include "dg/h5s3_dg_restore.h"
#include "dg/h5s3_dg_upload.h"

#endif
