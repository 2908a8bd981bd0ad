//! The component entry points of a connector, in the bindings' types.
//!
//! The export macros implement the traits `wit-bindgen` generates for the
//! connector's world by forwarding every method to one of these functions
//! (see [`__export_glue!`](crate::__export_glue)). Each installs the host
//! logger, converts what the host sent, runs the same [`native`] entry
//! point a native run uses, and converts the result back. Schemas go
//! through the host's `registry` import.

use crate::protocol::schema::Schema;
use crate::wit::{self, host, registry, types as t};
use crate::{
    Connector, Destination, Level, Reader, Source, Transform, Transformer, Writer, native,
};
use std::cell::RefCell;

fn install() {
    crate::logging::install_logger(log_to_host);
    crate::registry::install(crate::registry::Backend {
        register: register_with_host,
        fetch: fetch_from_host,
    });
}

fn log_to_host(level: Level, message: &str) {
    host::log(level.into(), message);
}

fn register_with_host(stream: &str, schema: &Schema) -> Result<String, String> {
    registry::register(stream, &schema.into())
}

fn fetch_from_host(id: &str) -> Result<Option<Schema>, String> {
    registry::fetch(id)
        .map(wit::schema_in)
        .transpose()
        .map_err(|e| e.to_string())
}

/// The spec of `C`.
pub fn spec<C: Connector>() -> t::ConnectorSpec {
    install();
    native::spec::<C>().into()
}

/// `check` of `C`.
pub fn check<C: Connector>(config: String) -> Result<(), t::ConnectorError> {
    install();
    native::check::<C>(&config).map_err(Into::into)
}

/// `discover` of `C`.
pub fn discover<C: Connector>(config: String) -> Result<t::Catalog, t::ConnectorError> {
    install();
    native::discover::<C>(&config)
        .map(Into::into)
        .map_err(Into::into)
}

/// The reader resource of a source: its [`Reader`], called one `next` at a time.
pub struct ReaderBox<R>(RefCell<R>);

impl<R: Reader> ReaderBox<R> {
    /// `next` of the reader resource.
    pub fn next(&self) -> Result<Option<Vec<t::Message>>, t::ConnectorError> {
        install();
        let messages = self.0.borrow_mut().next()?;
        Ok(messages.map(|ms| ms.into_iter().map(Into::into).collect()))
    }
}

/// `read` of `C`: parse the catalog, then the states, then validate the config.
pub fn read<C: Source>(
    config: String,
    catalog: t::ConfiguredCatalog,
    state: Vec<t::StreamState>,
) -> Result<ReaderBox<C::Reader>, t::ConnectorError> {
    install();
    let catalog = wit::configured_catalog_in(catalog)?;
    let states = wit::states_in(state)?;
    let reader = native::read::<C>(&config, catalog, states)?;
    Ok(ReaderBox(RefCell::new(reader)))
}

/// The writer resource of a destination: its [`Writer`], told each
/// schema id's schema (fetched once per writer).
pub struct WriterBox<W>(RefCell<native::HostWriter<W>>);

impl<W: Writer> WriterBox<W> {
    /// `schema` of the writer resource.
    pub fn schema(&self, stream: String, id: String) -> Result<(), t::ConnectorError> {
        install();
        Ok(self.0.borrow_mut().schema(&stream, &id)?)
    }

    /// `write` of the writer resource.
    pub fn write(&self, batch: t::Batch) -> Result<(), t::ConnectorError> {
        install();
        Ok(self.0.borrow_mut().write(batch.into())?)
    }

    /// `commit` of the writer resource.
    pub fn commit(&self) -> Result<(), t::ConnectorError> {
        install();
        Ok(self.0.borrow_mut().commit()?)
    }

    /// `complete` of the writer resource.
    pub fn complete(&self, stream: String) -> Result<(), t::ConnectorError> {
        install();
        Ok(self.0.borrow_mut().complete(&stream)?)
    }
}

/// `write` of `C`: parse the catalog, then validate the config.
pub fn write<C: Destination>(
    config: String,
    catalog: t::ConfiguredCatalog,
) -> Result<WriterBox<C::Writer>, t::ConnectorError> {
    install();
    let catalog = wit::configured_catalog_in(catalog)?;
    let writer = native::open_writer::<C>(&config, catalog)?;
    Ok(WriterBox(RefCell::new(writer)))
}

/// The transformer resource of a transform: its [`Transformer`].
pub struct TransformerBox<T>(RefCell<native::HostTransformer<T>>);

impl<T: Transformer> TransformerBox<T> {
    /// `transform` of the transformer resource.
    pub fn transform(&self, batch: t::Batch) -> Result<Vec<t::Batch>, t::ConnectorError> {
        install();
        let out = self.0.borrow_mut().transform(batch.into())?;
        Ok(out.into_iter().map(Into::into).collect())
    }
}

/// `open` of `C`: check the input schema, validate the config, open.
pub fn open<C: Transform>(
    config: String,
    stream: String,
    input: Option<t::Schema>,
) -> Result<(TransformerBox<C::Transformer>, Option<t::Schema>), t::ConnectorError> {
    install();
    let input = input.map(wit::schema_in).transpose().map_err(|e| {
        crate::ConnectorError::data(format!("the input schema is malformed: {e}"))
            .in_stream(&stream)
    })?;
    let (transformer, output) = native::open_transform::<C>(&config, &stream, input)?;
    let output = output.as_ref().map(t::Schema::from);
    Ok((TransformerBox(RefCell::new(transformer)), output))
}

/// Implements the export traits of the bindings module `$bindings` (a
/// sibling module) for the connector type `$connector` by forwarding to the
/// functions of this module, then exports them. Called by the export macros;
/// `$part`s are the interfaces of the world besides `connector`: `source`,
/// `destination`, `transform`.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_glue {
    ($bindings:ident, $connector:ty; $($part:ident),*) => {
        #[doc(hidden)]
        mod __sluice_glue {
            use $crate::__private::export as x;
            use $crate::__private::wit::types as t;
            use super::$bindings::exports::sluice::connector as e;

            type C = $connector;

            pub struct Exports;

            impl e::connector::Guest for Exports {
                fn spec() -> t::ConnectorSpec {
                    x::spec::<C>()
                }

                fn check(config: String) -> Result<(), t::ConnectorError> {
                    x::check::<C>(config)
                }

                fn discover(config: String) -> Result<t::Catalog, t::ConnectorError> {
                    x::discover::<C>(config)
                }
            }

            $($crate::__export_glue!(@$part);)*

            super::$bindings::export!(Exports);
        }
    };
    (@source) => {
        type R = <C as $crate::Source>::Reader;

        impl e::source::GuestReader for x::ReaderBox<R> {
            fn next(&self) -> Result<Option<Vec<t::Message>>, t::ConnectorError> {
                x::ReaderBox::next(self)
            }
        }

        impl e::source::Guest for Exports {
            type Reader = x::ReaderBox<R>;

            fn read(
                config: String,
                catalog: t::ConfiguredCatalog,
                state: Vec<t::StreamState>,
            ) -> Result<e::source::Reader, t::ConnectorError> {
                x::read::<C>(config, catalog, state).map(e::source::Reader::new)
            }
        }
    };
    (@destination) => {
        type W = <C as $crate::Destination>::Writer;

        impl e::destination::Guest for Exports {
            type Writer = x::WriterBox<W>;

            fn write(
                config: String,
                catalog: t::ConfiguredCatalog,
            ) -> Result<e::destination::Writer, t::ConnectorError> {
                x::write::<C>(config, catalog).map(e::destination::Writer::new)
            }
        }

        impl e::destination::GuestWriter for x::WriterBox<W> {
            fn schema(&self, stream: String, id: String) -> Result<(), t::ConnectorError> {
                x::WriterBox::schema(self, stream, id)
            }

            fn write(&self, batch: t::Batch) -> Result<(), t::ConnectorError> {
                x::WriterBox::write(self, batch)
            }

            fn commit(&self) -> Result<(), t::ConnectorError> {
                x::WriterBox::commit(self)
            }

            fn complete(&self, stream: String) -> Result<(), t::ConnectorError> {
                x::WriterBox::complete(self, stream)
            }
        }
    };
    (@transform) => {
        type T = <C as $crate::Transform>::Transformer;

        impl e::transform::GuestTransformer for x::TransformerBox<T> {
            fn transform(&self, batch: t::Batch) -> Result<Vec<t::Batch>, t::ConnectorError> {
                x::TransformerBox::transform(self, batch)
            }
        }

        impl e::transform::Guest for Exports {
            type Transformer = x::TransformerBox<T>;

            fn open(
                config: String,
                stream: String,
                input: Option<t::Schema>,
            ) -> Result<(e::transform::Transformer, Option<t::Schema>), t::ConnectorError> {
                x::open::<C>(config, stream, input)
                    .map(|(tr, out)| (e::transform::Transformer::new(tr), out))
            }
        }
    };
}
