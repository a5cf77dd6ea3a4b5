package org.her2status.hapi;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.IValidationSupport;
import ca.uhn.fhir.jpa.api.config.JpaStorageSettings;
import ca.uhn.fhir.jpa.api.dao.IFhirSystemDao;
import ca.uhn.fhir.jpa.config.HapiJpaConfig;
import ca.uhn.fhir.jpa.api.config.ThreadPoolFactoryConfig;
import ca.uhn.fhir.jpa.subscription.channel.config.SubscriptionChannelConfig;
import ca.uhn.fhir.jpa.batch2.JpaBatch2Config;
import ca.uhn.fhir.batch2.jobs.config.Batch2JobsConfig;
import ca.uhn.fhir.jpa.config.r4.JpaR4Config;
import ca.uhn.fhir.jpa.config.util.HapiEntityManagerFactoryUtil;
import ca.uhn.fhir.jpa.model.config.PartitionSettings;
import ca.uhn.fhir.jpa.model.dialect.HapiFhirH2Dialect;
import ca.uhn.fhir.jpa.provider.JpaCapabilityStatementProvider;
import ca.uhn.fhir.jpa.provider.JpaSystemProvider;
import ca.uhn.fhir.jpa.search.DatabaseBackedPagingProvider;
import ca.uhn.fhir.rest.server.RestfulServer;
import ca.uhn.fhir.rest.server.provider.ResourceProviderFactory;
import ca.uhn.fhir.rest.server.util.ISearchParamRegistry;
import java.net.InetSocketAddress;
import java.util.Properties;
import javax.persistence.EntityManagerFactory;
import javax.sql.DataSource;
import org.apache.commons.dbcp2.BasicDataSource;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.servlet.ServletContextHandler;
import org.eclipse.jetty.servlet.ServletHolder;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.context.annotation.AnnotationConfigApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;
import org.springframework.context.annotation.Primary;
import org.springframework.orm.jpa.JpaTransactionManager;
import org.springframework.orm.jpa.LocalContainerEntityManagerFactoryBean;

/**
 * A real HAPI FHIR JPA server (R4, in-memory H2) for her2-status's integration tests.
 *
 * <p>Assembled from HAPI's own Spring configuration (JpaR4Config, HapiJpaConfig) because
 * no packaged HAPI server war is available from Maven Central. Usage: {@code PORT}.
 * Listens on 127.0.0.1 only; the FHIR base is http://127.0.0.1:PORT/fhir.
 */
public final class HapiTestServer {

  private HapiTestServer() {}

  /** Application beans HAPI's configuration expects from its host. */
  @Configuration
  @Import({JpaR4Config.class, HapiJpaConfig.class, JpaBatch2Config.class, Batch2JobsConfig.class,
    SubscriptionChannelConfig.class, ThreadPoolFactoryConfig.class})
  public static class AppConfig {

    @Bean
    public DataSource dataSource() {
      BasicDataSource dataSource = new BasicDataSource();
      dataSource.setDriverClassName("org.h2.Driver");
      dataSource.setUrl("jdbc:h2:mem:fhir;DB_CLOSE_DELAY=-1");
      dataSource.setUsername("sa");
      dataSource.setPassword("");
      dataSource.setMaxTotal(20);
      return dataSource;
    }

    @Bean
    public JpaStorageSettings storageSettings() {
      JpaStorageSettings settings = new JpaStorageSettings();
      // Searches must see writes at once (tests write, then search).
      settings.setReuseCachedSearchResultsForMillis(null);
      settings.setAllowExternalReferences(true);
      settings.setAllowMultipleDelete(true);
      return settings;
    }

    @Bean
    public PartitionSettings partitionSettings() {
      return new PartitionSettings();
    }

    @Primary
    @Bean
    public LocalContainerEntityManagerFactoryBean entityManagerFactory(
        ConfigurableListableBeanFactory beanFactory, FhirContext fhirContext, DataSource dataSource) {
      LocalContainerEntityManagerFactoryBean factory =
          HapiEntityManagerFactoryUtil.newEntityManagerFactory(beanFactory, fhirContext);
      factory.setPersistenceUnitName("HAPI_PU");
      factory.setDataSource(dataSource);
      Properties jpa = new Properties();
      jpa.put("hibernate.dialect", HapiFhirH2Dialect.class.getName());
      jpa.put("hibernate.hbm2ddl.auto", "update");
      jpa.put("hibernate.search.enabled", "false");
      jpa.put("hibernate.format_sql", "false");
      jpa.put("hibernate.show_sql", "false");
      factory.setJpaProperties(jpa);
      return factory;
    }

    @Primary
    @Bean(name = {"transactionManager", "hapiTransactionManager"})
    public JpaTransactionManager transactionManager(EntityManagerFactory entityManagerFactory) {
      return new JpaTransactionManager(entityManagerFactory);
    }
  }

  /** Starts the server and blocks until the process is stopped. */
  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    AnnotationConfigApplicationContext context = new AnnotationConfigApplicationContext(AppConfig.class);
    FhirContext fhirContext = context.getBean(FhirContext.class);
    RestfulServer fhir = new RestfulServer(fhirContext);
    fhir.registerProviders(context.getBean("myResourceProvidersR4", ResourceProviderFactory.class).createProviders());
    fhir.registerProvider(context.getBean(JpaSystemProvider.class));
    fhir.setPagingProvider(context.getBean(DatabaseBackedPagingProvider.class));
    fhir.setServerConformanceProvider(new JpaCapabilityStatementProvider(
        fhir,
        context.getBean(IFhirSystemDao.class),
        context.getBean(JpaStorageSettings.class),
        context.getBean(ISearchParamRegistry.class),
        context.getBean(IValidationSupport.class)));
    BearerTokenAuthorization.registerIfConfigured(fhir); // only with her2.auth.* properties
    Server jetty = new Server(new InetSocketAddress("127.0.0.1", port));
    ServletContextHandler handler = new ServletContextHandler();
    handler.setContextPath("/");
    handler.addServlet(new ServletHolder(fhir), "/fhir/*");
    jetty.setHandler(handler);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        jetty.stop();
      } catch (Exception ignored) {
        // stopping anyway
      }
      context.close();
    }));
    jetty.start();
    jetty.join();
  }
}
