# Finds oneDNN (Debian: libdnnl-dev) by its header and library and defines
# the imported target DNNL::dnnl, unless a target of that name exists
# already (oneDNN's own package config was found first). oneDNN's config is
# not used here: Debian's build has an OpenCL GPU runtime, so the config
# requires OpenCL's development files, which genmodel (CPU engine only) does
# not need. Sets GENMODEL_DNNL_FOUND. Used by genmodel's build and by its
# installed package config.
if(TARGET DNNL::dnnl)
  set(GENMODEL_DNNL_FOUND ON)
  return()
endif()
find_path(GENMODEL_DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp)
find_library(GENMODEL_DNNL_LIBRARY dnnl)
if(GENMODEL_DNNL_INCLUDE_DIR AND GENMODEL_DNNL_LIBRARY)
  add_library(DNNL::dnnl UNKNOWN IMPORTED)
  set_target_properties(DNNL::dnnl PROPERTIES
    IMPORTED_LOCATION "${GENMODEL_DNNL_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${GENMODEL_DNNL_INCLUDE_DIR}")
  set(GENMODEL_DNNL_FOUND ON)
else()
  set(GENMODEL_DNNL_FOUND OFF)
endif()
